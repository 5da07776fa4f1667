"""A TCP proxy that holds the first bytes of every response for a fixed delay.

In front of LocalStack it makes each HTTP exchange on a connection (request out, response
back) take `--delay` seconds longer, as a distant SES endpoint would; bench/run.py uses it for
the batch concurrency figure. Connections are not delayed, only responses, so a client that
keeps its connections alive pays the delay once per call.

    python -m bench.delay_proxy --upstream 127.0.0.1:4566 --delay 0.1

It listens on a free port of 127.0.0.1, prints that port on a line of its own, and serves until
SIGTERM or SIGINT, or until `--max-seconds` have passed (it always stops by itself).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

CHUNK = 64 * 1024


class _Exchange:
    """Whether a request has gone upstream whose response has not started yet."""

    def __init__(self) -> None:
        self.awaiting_response = False


async def _requests(
    client: asyncio.StreamReader, upstream: asyncio.StreamWriter, exchange: _Exchange
) -> None:
    while data := await client.read(CHUNK):
        exchange.awaiting_response = True  # set before the bytes can reach the server
        upstream.write(data)
        await upstream.drain()


async def _responses(
    upstream: asyncio.StreamReader,
    client: asyncio.StreamWriter,
    exchange: _Exchange,
    delay: float,
) -> None:
    while data := await upstream.read(CHUNK):
        if exchange.awaiting_response:
            exchange.awaiting_response = False
            await asyncio.sleep(delay)
        client.write(data)
        await client.drain()


async def _serve_connection(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    *,
    upstream: tuple[str, int],
    delay: float,
) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(*upstream)
    except OSError:
        client_writer.close()
        return
    exchange = _Exchange()
    pumps = [
        asyncio.create_task(_requests(client_reader, upstream_writer, exchange)),
        asyncio.create_task(_responses(upstream_reader, client_writer, exchange, delay)),
    ]
    # Either side closing (or failing) ends the connection on both sides.
    await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    for pump in pumps:
        pump.cancel()
    for writer in (upstream_writer, client_writer):
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def serve(*, upstream: tuple[str, int], delay: float, max_seconds: float) -> None:
    """Listen on 127.0.0.1, print the port, relay until a signal or `max_seconds`."""
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, upstream=upstream, delay=delay), "127.0.0.1", 0
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT to relay to")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added per response")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop after this long")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    asyncio.run(serve(upstream=(host, int(port)), delay=args.delay, max_seconds=args.max_seconds))


if __name__ == "__main__":
    main()
