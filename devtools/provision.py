"""`python -m devtools provision`: what the notifier talks to, wherever AWS_ENDPOINT_URL points.

The local stand-in for the stack's entry points: the email queue and its dead-letter queue,
the bulk queue (the lane of bulk mail, with a lower concurrency) and its own dead-letter queue,
the email topic feeding the queue (filter `channel = email`), the feedback topic (SES events,
also fed to the queue) and an SES configuration set publishing every event type to it, the
status topic (callbacks), the SES sender domains, the attachments bucket and the DynamoDB
state table (TTL on `ttl`). Idempotent: each resource is
read first and only created or corrected when it differs, so a second run changes nothing. The
one function, `provision()`, serves the CLI, the compose init and the tests.

Each client goes to its own service's endpoint when one is set (AWS_ENDPOINT_URL_DYNAMODB, for
example, sends only DynamoDB elsewhere), else to AWS_ENDPOINT_URL: botocore resolves both.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any, cast

import attrs
import botocore.session
from botocore.exceptions import ClientError

from devtools.template_files import MemoryTemplateStore
from notifier.adapters.outbound.aws import client, error_code
from notifier.adapters.outbound.dynamodb import state_table as schema
from notifier.adapters.outbound.s3_templates import parse_s3_url

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef
    from mypy_boto3_ses import SESClient
    from mypy_boto3_ses.literals import EventTypeType
    from mypy_boto3_ses.type_defs import EventDestinationTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

SAMPLE_ATTACHMENT_KEY = "invoices/12345.pdf"
SAMPLE_TEMPLATES = "s3://notifier-templates/v1"  # where run_local and --sample-templates put them
# Every event type an SES v1 configuration set can publish. The handler also understands
# DeliveryDelay and Subscription, which only SES v2 configuration sets publish.
EVENT_TYPES: tuple[EventTypeType, ...] = (
    "send",
    "reject",
    "bounce",
    "complaint",
    "delivery",
    "open",
    "click",
    "renderingFailure",
)
FILTER_POLICY = {"channel": ["email"]}
QUEUE_RETENTION_SECONDS = 345_600  # 4 days, as in template.yaml
DEAD_LETTER_RETENTION_SECONDS = 1_209_600  # 14 days, the maximum, as in template.yaml
_JSON_QUEUE_ATTRIBUTES = frozenset({"RedrivePolicy", "Policy"})


class ProvisionError(Exception):
    """A resource exists in a shape provisioning cannot correct in place."""


@attrs.frozen(kw_only=True)
class ProvisionConfig:
    """Names and knobs; the defaults are the ones the README and the CLI use."""

    queue_name: str = "notifier-email"
    dead_letter_queue_name: str = "notifier-email-dlq"
    # The bulk lane: producers put bulk mail here, and the function forwards here the bulk
    # mail that arrives on the queue above (NOTIFIER_BULK_QUEUE_URL). Same visibility timeout
    # and receive count as the email queue, a dead-letter queue of its own; "" makes neither.
    bulk_queue_name: str = "notifier-bulk"
    bulk_dead_letter_queue_name: str = attrs.field(default="notifier-bulk-dlq")
    topic_name: str = "notifier-email"
    # Where SES feedback is published (point the identities' notifications here); subscribed
    # to the queue without a filter, since SES sets no message attributes. "" provisions none.
    feedback_topic_name: str = "notifier-feedback"
    # Sends through it publish every SES event to the feedback topic (NOTIFIER_SES_
    # CONFIGURATION_SET); "" makes none. Needs a feedback topic.
    configuration_set: str = "notifier-events"
    # Status callbacks (NOTIFIER_STATUS_TOPIC_ARN); "" makes none.
    status_topic_name: str = "notifier-status"
    # 180 s for parity with AWS; local runs and tests lower it so retries come back quickly.
    visibility_timeout: int = attrs.field(
        default=180, validator=attrs.validators.in_(range(43_201))
    )
    max_receive_count: int = attrs.field(default=3, validator=attrs.validators.in_(range(1, 1001)))
    sender_domains: tuple[str, ...] = ("acubeapi.com",)
    bucket: str = "acube-invoices"
    sample_attachment: bool = False
    # s3://bucket/prefix to upload the sample templates (devtools/templates) to, the handler's
    # NOTIFIER_TEMPLATES; "" uploads none.
    sample_templates: str = ""
    # NOTIFIER_STATE_TABLE when set, so that provision makes the table the handler reads;
    # "" provisions no table.
    state_table: str = attrs.field(
        factory=lambda: os.environ.get("NOTIFIER_STATE_TABLE", "").strip() or "notifier-state"
    )

    @classmethod
    def named(cls, name: str, **settings: Any) -> ProvisionConfig:
        """A stack of its own (a test's, a soak's): both queues, their dead-letter queues and
        the email topic named after `name`; the rest as `settings` say (they win)."""
        names = {
            "queue_name": name,
            "dead_letter_queue_name": f"{name}-dlq",
            "bulk_queue_name": f"{name}-bulk",
            "bulk_dead_letter_queue_name": f"{name}-bulk-dlq",
            "topic_name": name,
        }
        return cls(**{**names, **settings})

    @bulk_dead_letter_queue_name.validator
    def _bulk_lane_has_dead_letters(self, _attribute: object, value: str) -> None:
        if self.bulk_queue_name and not value:
            raise ValueError("a bulk queue needs a dead-letter queue (bulk_dead_letter_queue_name)")


@attrs.frozen(kw_only=True)
class AwsClients:
    """The clients provisioning needs; `from_session` builds them from one session."""

    sqs: SQSClient
    sns: SNSClient
    ses: SESClient
    s3: S3Client
    dynamodb: DynamoDBClient

    @classmethod
    def from_session(cls, session: botocore.session.Session) -> AwsClients:
        return cls(
            sqs=client(session, "sqs", retries=3),
            sns=client(session, "sns", retries=3),
            ses=client(session, "ses", retries=3),
            s3=client(session, "s3", retries=3),
            dynamodb=client(session, "dynamodb", retries=3),
        )


@attrs.frozen(kw_only=True)
class Provisioned:
    """What exists now, and what this run had to create or correct (empty: nothing)."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    bulk_queue_url: str  # "" when none was asked for, as are the three below
    bulk_queue_arn: str
    bulk_dead_letter_queue_url: str
    bulk_dead_letter_queue_arn: str
    topic_arn: str
    subscription_arn: str
    feedback_topic_arn: str  # "" when none was asked for
    configuration_set: str  # "" when none was asked for
    status_topic_arn: str  # "" when none was asked for
    sender_domains: tuple[tuple[str, str], ...]  # (domain, SES verification status)
    bucket: str
    sample_attachment: str | None
    templates: str  # s3://bucket/prefix of the sample templates; "" when not uploaded
    state_table: str  # "" when none was asked for
    visibility_timeout: int
    max_receive_count: int
    changes: tuple[str, ...]

    def lines(self) -> list[str]:
        """A human-readable report, one resource a line."""
        domains = ", ".join(f"{domain} ({status})" for domain, status in self.sender_domains)
        table = (
            f"{self.state_table} (key {schema.KEY}, TTL on {schema.TTL_ATTRIBUTE})"
            if self.state_table
            else "(none)"
        )
        return [
            f"queue         {self.queue_url}",
            f"              visibility timeout {self.visibility_timeout} s,"
            f" dead-letter after {self.max_receive_count} receives",
            f"dead letters  {self.dead_letter_queue_url}",
            f"bulk queue    {self.bulk_queue_url or '(none)'}",
            *([f"bulk dead     {self.bulk_dead_letter_queue_url}"] if self.bulk_queue_url else []),
            f"topic         {self.topic_arn}",
            f"subscription  {self.subscription_arn} (queue, filter {json.dumps(FILTER_POLICY)})",
            f"feedback      {self.feedback_topic_arn or '(none)'} (SES notifications -> queue)",
            f"config set    {self.configuration_set or '(none)'} (every SES event -> feedback)",
            f"status topic  {self.status_topic_arn or '(none)'} (status callbacks)",
            f"ses domains   {domains or '(none)'}",
            f"bucket        s3://{self.bucket}",
            f"sample        {self.sample_attachment or '(not uploaded)'}",
            f"templates     {self.templates or '(not uploaded)'}",
            f"state table   {table}",
            *(
                [f"changed       {change}" for change in self.changes]
                or ["unchanged     everything was already in place"]
            ),
        ]


def provision(
    aws: botocore.session.Session | AwsClients, *, config: ProvisionConfig
) -> Provisioned:
    """Create or correct every resource; safe to run any number of times."""
    clients = aws if isinstance(aws, AwsClients) else AwsClients.from_session(aws)
    return _Provisioner(clients).run(config)


@attrs.frozen(kw_only=True)
class _Lane:
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str


_NO_BULK_LANE = _Lane(
    queue_url="", queue_arn="", dead_letter_queue_url="", dead_letter_queue_arn=""
)


class _Provisioner:
    def __init__(self, clients: AwsClients) -> None:
        self._aws = clients
        self._changes: list[str] = []

    def run(self, config: ProvisionConfig) -> Provisioned:
        dlq_url = self._queue(
            config.dead_letter_queue_name,
            {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)},
        )
        dlq_arn = self._queue_arn(dlq_url)
        topic_arn = self._topic(config.topic_name)
        feedback_arn = self._topic(config.feedback_topic_name) if config.feedback_topic_name else ""
        queue_url = self._queue_url(config.queue_name)
        queue_arn = _arn_from_topic(topic_arn, "sqs", config.queue_name)
        queue_url = self._queue(
            config.queue_name,
            {
                **_email_queue_attributes(config, dlq_arn),
                "Policy": json.dumps(
                    _topics_may_send(queue_arn, [a for a in (topic_arn, feedback_arn) if a])
                ),
            },
            known_url=queue_url,
        )
        queue_arn = self._queue_arn(queue_url)
        bulk = self._bulk_lane(config) if config.bulk_queue_name else _NO_BULK_LANE
        subscription_arn = self._subscription(topic_arn, queue_arn, FILTER_POLICY)
        if feedback_arn:
            self._subscription(feedback_arn, queue_arn, None)
        configuration_set = ""
        if config.configuration_set and feedback_arn:
            configuration_set = self._configuration_set(config.configuration_set, feedback_arn)
        status_arn = self._topic(config.status_topic_name) if config.status_topic_name else ""
        domains = self._sender_domains(config.sender_domains)
        self._bucket(config.bucket)
        sample = self._sample(config.bucket) if config.sample_attachment else None
        if config.sample_templates:
            self._templates(config.sample_templates)
        if config.state_table:
            self._state_table(config.state_table)
        return Provisioned(
            queue_url=queue_url,
            queue_arn=queue_arn,
            dead_letter_queue_url=dlq_url,
            dead_letter_queue_arn=dlq_arn,
            bulk_queue_url=bulk.queue_url,
            bulk_queue_arn=bulk.queue_arn,
            bulk_dead_letter_queue_url=bulk.dead_letter_queue_url,
            bulk_dead_letter_queue_arn=bulk.dead_letter_queue_arn,
            topic_arn=topic_arn,
            subscription_arn=subscription_arn,
            feedback_topic_arn=feedback_arn,
            configuration_set=configuration_set,
            status_topic_arn=status_arn,
            sender_domains=domains,
            bucket=config.bucket,
            sample_attachment=sample,
            templates=config.sample_templates,
            state_table=config.state_table,
            visibility_timeout=config.visibility_timeout,
            max_receive_count=config.max_receive_count,
            changes=tuple(self._changes),
        )

    def _bulk_lane(self, config: ProvisionConfig) -> _Lane:
        """The bulk queue and its dead-letter queue. No topic feeds it: producers send to it
        directly, and the function forwards bulk mail to it."""
        dlq_url = self._queue(
            config.bulk_dead_letter_queue_name,
            {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)},
        )
        dlq_arn = self._queue_arn(dlq_url)
        url = self._queue(config.bulk_queue_name, _email_queue_attributes(config, dlq_arn))
        return _Lane(
            queue_url=url,
            queue_arn=self._queue_arn(url),
            dead_letter_queue_url=dlq_url,
            dead_letter_queue_arn=dlq_arn,
        )

    def _queue_url(self, name: str) -> str | None:
        try:
            return self._aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except self._aws.sqs.exceptions.QueueDoesNotExist:
            return None

    def _queue(
        self, name: str, wanted: dict[QueueAttributeNameType, str], known_url: str | None = None
    ) -> str:
        # CreateQueue on an existing queue fails when any attribute differs: read, then correct.
        url = known_url or self._queue_url(name)
        if url is None:
            self._changes.append(f"created queue {name}")
            return self._aws.sqs.create_queue(QueueName=name, Attributes=wanted)["QueueUrl"]
        current = self._aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        have = current.get("Attributes", {})
        stale = {k: v for k, v in wanted.items() if not _same_attribute(k, have.get(k), v)}
        if stale:
            self._aws.sqs.set_queue_attributes(QueueUrl=url, Attributes=stale)
            self._changes.append(f"set {', '.join(sorted(stale))} of queue {name}")
        return url

    def _queue_arn(self, url: str) -> str:
        attributes = self._aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def _topic(self, name: str) -> str:
        arn = find_topic(self._aws.sns, name)
        if arn is not None:
            return arn
        self._changes.append(f"created topic {name}")
        return self._aws.sns.create_topic(Name=name)["TopicArn"]

    def _subscription(
        self, topic_arn: str, queue_arn: str, filter_policy: dict[str, Any] | None
    ) -> str:
        # The queue gets the SNS envelope; the SQS inbound adapter unwraps it.
        wanted = {"RawMessageDelivery": "false"}
        if filter_policy is not None:
            wanted |= {
                "FilterPolicy": json.dumps(filter_policy),
                "FilterPolicyScope": "MessageAttributes",
            }
        pages = self._aws.sns.get_paginator("list_subscriptions_by_topic").paginate(
            TopicArn=topic_arn
        )
        for page in pages:
            for sub in page.get("Subscriptions", []):
                if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == queue_arn:
                    arn = sub["SubscriptionArn"]
                    have = self._aws.sns.get_subscription_attributes(SubscriptionArn=arn)
                    for name, value in wanted.items():
                        if not _same_json(have.get("Attributes", {}).get(name), value):
                            self._aws.sns.set_subscription_attributes(
                                SubscriptionArn=arn, AttributeName=name, AttributeValue=value
                            )
                            self._changes.append(f"set {name} of the queue's subscription")
                    return arn
        self._changes.append("subscribed the queue to the topic")
        return self._aws.sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes=wanted,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def _configuration_set(self, name: str, topic_arn: str) -> str:
        """The configuration set, with one SNS event destination for every event type."""
        ses = self._aws.ses
        try:
            described = ses.describe_configuration_set(
                ConfigurationSetName=name, ConfigurationSetAttributeNames=["eventDestinations"]
            )
        except ses.exceptions.ConfigurationSetDoesNotExistException:
            ses.create_configuration_set(ConfigurationSet={"Name": name})
            self._changes.append(f"created SES configuration set {name}")
            described = cast("Any", {"EventDestinations": []})
        # Named after the set: LocalStack wants destination names unique across all sets
        # (AWS, only within one), and SES names are at most 64 characters.
        destination = f"{name[:55]}-feedback"
        wanted: EventDestinationTypeDef = {
            "Name": destination,
            "Enabled": True,
            "MatchingEventTypes": list(EVENT_TYPES),
            "SNSDestination": {"TopicARN": topic_arn},
        }
        have = {d["Name"]: d for d in described.get("EventDestinations", [])}
        current = have.get(destination)
        if current is None:
            ses.create_configuration_set_event_destination(
                ConfigurationSetName=name, EventDestination=wanted
            )
            self._changes.append(f"publishing SES events of {name} to {topic_arn}")
        elif (
            current.get("SNSDestination", {}).get("TopicARN") != topic_arn
            or sorted(current.get("MatchingEventTypes", [])) != sorted(EVENT_TYPES)
            or not current.get("Enabled", False)
        ):
            ses.update_configuration_set_event_destination(
                ConfigurationSetName=name, EventDestination=wanted
            )
            self._changes.append(f"corrected the SES event destination of {name}")
        return name

    def _sender_domains(self, domains: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        if not domains:
            return ()
        ses = self._aws.ses
        # Not GetIdentityVerificationAttributes: LocalStack answers "Success" for any identity.
        known = {
            identity
            for page in ses.get_paginator("list_identities").paginate(IdentityType="Domain")
            for identity in page["Identities"]
        }
        for domain in domains:
            if domain not in known:
                token = ses.verify_domain_identity(Domain=domain)["VerificationToken"]
                self._changes.append(
                    f"asked SES to verify {domain} (DNS: _amazonses.{domain} TXT {token})"
                )
        status = ses.get_identity_verification_attributes(Identities=list(domains))
        attributes = status["VerificationAttributes"]
        return tuple(
            (d, attributes[d]["VerificationStatus"] if d in attributes else "?") for d in domains
        )

    def _bucket(self, bucket: str) -> None:
        s3 = self._aws.s3
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise  # 403: the name is taken by someone else; nothing to provision here
        region = s3.meta.region_name
        if region in (None, "us-east-1"):
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]  # any region name
            )
        self._changes.append(f"created bucket {bucket}")

    def _sample(self, bucket: str) -> str:
        self._upload(bucket, SAMPLE_ATTACHMENT_KEY, sample_pdf(), content_type="application/pdf")
        return f"s3://{bucket}/{SAMPLE_ATTACHMENT_KEY}"

    def _templates(self, url: str) -> None:
        """Upload each sample template file whose content differs."""
        bucket, prefix = parse_s3_url(url)
        self._bucket(bucket)
        for path, text in MemoryTemplateStore.from_directory().files.items():
            key = f"{prefix}/{path}" if prefix else path
            self._upload(bucket, key, text.encode("utf-8"))

    def _upload(
        self, bucket: str, key: str, body: bytes, *, content_type: str | None = None
    ) -> None:
        """Put `body` at `key` unless it is there already (a single-part upload's ETag is the
        MD5 of the content)."""
        try:
            head = self._aws.s3.head_object(Bucket=bucket, Key=key)
            current: str | None = head["ETag"].strip('"')
        except ClientError as exc:
            if error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
                raise
            current = None
        if current == hashlib.md5(body, usedforsecurity=False).hexdigest():
            return
        request: PutObjectRequestTypeDef = {"Bucket": bucket, "Key": key, "Body": body}
        if content_type:
            request["ContentType"] = content_type
        self._aws.s3.put_object(**request)
        self._changes.append(f"uploaded s3://{bucket}/{key}")

    def _state_table(self, name: str) -> None:
        dynamodb = self._aws.dynamodb
        try:
            table = dynamodb.describe_table(TableName=name)["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            table = dynamodb.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=list(schema.KEY_SCHEMA),
                AttributeDefinitions=list(schema.ATTRIBUTE_DEFINITIONS),
            )["TableDescription"]
            self._changes.append(f"created table {name}")
        else:
            # The key cannot be changed in place. The billing mode could be, but that is the
            # owner's choice (and AWS allows one switch a day): an existing table keeps its own.
            keys = [(k["AttributeName"], k["KeyType"]) for k in table.get("KeySchema", [])]
            types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
            wanted = [(k["AttributeName"], k["KeyType"]) for k in schema.KEY_SCHEMA]
            if keys != wanted or any(
                types.get(d["AttributeName"]) != d["AttributeType"]
                for d in schema.ATTRIBUTE_DEFINITIONS
            ):
                raise ProvisionError(
                    f"table {name} exists with the key schema {keys}; the state table needs the"
                    f" partition key {schema.KEY} (S) alone: choose another name"
                )
        if table.get("TableStatus") != "ACTIVE":  # UpdateTimeToLive wants an ACTIVE table
            dynamodb.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
        ttl = dynamodb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        if ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
            if ttl.get("AttributeName") == schema.TTL_ATTRIBUTE:
                return
            raise ProvisionError(
                f"table {name} has TTL on the attribute {ttl.get('AttributeName')!r}, not"
                f" {schema.TTL_ATTRIBUTE!r}: disable it first (AWS allows one TTL change"
                " an hour)"
            )
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.TTL_ATTRIBUTE},
        )
        self._changes.append(f"enabled TTL on attribute {schema.TTL_ATTRIBUTE} of {name}")


def find_topic(sns: SNSClient, name: str) -> str | None:
    """The ARN of the topic called `name`, or None if there is none."""
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return topic["TopicArn"]
    return None


def sample_pdf(text: str = "Facture #12345") -> bytes:
    """A one-page PDF showing `text`, with a correct cross-reference table (a few hundred bytes)."""
    content = f"BT /F1 24 Tf 72 760 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(pdf)


def _topics_may_send(queue_arn: str, topic_arns: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TopicsSend",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": topic_arns[0] if len(topic_arns) == 1 else topic_arns
                    }
                },
            }
        ],
    }


def _email_queue_attributes(
    config: ProvisionConfig, dead_letter_arn: str
) -> dict[QueueAttributeNameType, str]:
    """What the email queue and the bulk queue have alike: the template's settings."""
    return {
        "VisibilityTimeout": str(config.visibility_timeout),
        "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": config.max_receive_count}
        ),
    }


def _arn_from_topic(topic_arn: str, service: str, name: str) -> str:
    """The ARN of `name` in the topic's partition, region and account (before it exists)."""
    arn, partition, _sns, region, account, _topic = topic_arn.split(":", 5)
    return ":".join((arn, partition, service, region, account, name))


def _same_attribute(name: str, have: str | None, wanted: str) -> bool:
    if have is None:
        return False
    if name == "RedrivePolicy":
        # SQS may echo maxReceiveCount as a string or a number.
        mine, theirs = json.loads(wanted), json.loads(have)
        return bool(
            mine["deadLetterTargetArn"] == theirs.get("deadLetterTargetArn")
            and int(mine["maxReceiveCount"]) == int(theirs.get("maxReceiveCount", 0))
        )
    if name in _JSON_QUEUE_ATTRIBUTES:
        return _same_json(have, wanted)
    return have == wanted


def _same_json(have: str | None, wanted: str) -> bool:
    if have is None:
        return False
    try:
        return bool(json.loads(have) == json.loads(wanted))
    except ValueError:
        return have == wanted
