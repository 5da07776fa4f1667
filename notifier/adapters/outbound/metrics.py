"""CloudWatch metrics: Embedded Metric Format on stdout, `PutMetricData`, or nothing.

Values are collected per invocation and published on `flush()`. A metric with a reason is
published under two dimension sets, `[Service]` and `[Service, Reason]`, so an alarm can watch
the total while a dashboard splits it by cause.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from notifier.domain.ports import Unit

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

SERVICE = "notifier"
_MAX_VALUES = 100  # EMF and PutMetricData both take at most 100 values per metric entry

_Key = tuple[str, Unit, str | None]


class _Collector:
    """Values recorded since the last flush, counts summed and timings kept."""

    def __init__(self) -> None:
        self._values: defaultdict[_Key, list[float]] = defaultdict(list)

    def add(self, name: str, value: float, unit: Unit, *, reason: str | None = None) -> None:
        self._values[(name, unit, reason)].append(value)

    def drain(self) -> Iterator[tuple[str, Unit, str | None, list[float]]]:
        values, self._values = self._values, defaultdict(list)
        for (name, unit, reason), recorded in values.items():
            if unit is Unit.COUNT:
                yield name, unit, reason, [sum(recorded)]
            else:
                for start in range(0, len(recorded), _MAX_VALUES):
                    yield name, unit, reason, recorded[start : start + _MAX_VALUES]


class EmfMetrics(_Collector):
    """One EMF JSON document per metric and reason, written as a line to `stream`."""

    def __init__(
        self,
        namespace: str,
        *,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._namespace = namespace
        self._stream = stream
        self._clock = clock

    def flush(self) -> None:
        stream = self._stream or sys.stdout
        timestamp = int(self._clock() * 1000)
        for name, unit, reason, values in self.drain():
            dimensions = [["Service"], ["Service", "Reason"]] if reason else [["Service"]]
            document: dict[str, Any] = {
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self._namespace,
                            "Dimensions": dimensions,
                            "Metrics": [{"Name": name, "Unit": unit.value}],
                        }
                    ],
                },
                "Service": SERVICE,
                name: values[0] if len(values) == 1 else values,
            }
            if reason:
                document["Reason"] = reason
            stream.write(json.dumps(document, separators=(",", ":")) + "\n")
        stream.flush()


class CloudWatchApiMetrics(_Collector):
    """`PutMetricData` on flush (NOTIFIER_METRICS_MODE=api): needs the IAM permission."""

    def __init__(self, client: CloudWatchClient, namespace: str) -> None:
        super().__init__()
        self._client = client
        self._namespace = namespace

    def flush(self) -> None:
        data: list[MetricDatumTypeDef] = []
        for name, unit, reason, values in self.drain():
            dimension_sets = [[("Service", SERVICE)]]
            if reason:
                dimension_sets.append([("Service", SERVICE), ("Reason", reason)])
            for dimensions in dimension_sets:
                data.append(
                    {
                        "MetricName": name,
                        "Unit": unit.value,
                        "Values": values,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
                    }
                )
        for start in range(0, len(data), 1000):
            self._client.put_metric_data(
                Namespace=self._namespace, MetricData=data[start : start + 1000]
            )


class NullMetrics:
    """NOTIFIER_METRICS_MODE=off."""

    def add(self, name: str, value: float, unit: Unit, *, reason: str | None = None) -> None:
        """Drop the value."""

    def flush(self) -> None:
        """Nothing to publish."""
