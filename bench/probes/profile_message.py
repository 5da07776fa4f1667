"""pyinstrument over the per-message path (bench/probes/per_message.py): where the time goes."""

from __future__ import annotations

from pyinstrument import Profiler

from bench import messages
from bench.fakes import Context, CountingMailer
from bench.probes.common import Result, Spec, probe_main, require_sent
from bench.probes.per_message import CASES, fake_app


def run(spec: Spec) -> Result:
    app = fake_app(CountingMailer())
    context = Context()
    result: Result = {}
    for name, make in CASES.items():
        count = spec["messages"][name]
        events = [messages.sqs_event([make(f"user{i}@example.com")]) for i in range(count + 20)]
        for event in events[:20]:
            require_sent(app.handle(event, context))
        profiler = Profiler(interval=spec["interval_s"])
        profiler.start()
        for event in events[20:]:
            app.handle(event, context)
        profiler.stop()
        result[name] = profiler.output_text(unicode=True, color=False, short_mode=False)
    return result


if __name__ == "__main__":
    probe_main(run)
