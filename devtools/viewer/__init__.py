"""The local mail viewer: a web page of LocalStack's SES outbox, as Mailpit shows a mailbox.

`make run` starts it; `python -m devtools viewer --endpoint URL [--port N]` runs it alone.
"""
