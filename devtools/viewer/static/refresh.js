// The list page: ask the viewer for the outbox's ids every second; reload when they change.
"use strict";
(function () {
  const shown = Array.from(document.querySelectorAll("tr[data-id]"), (row) => row.dataset.id);
  const same = (ids) => ids.length === shown.length && ids.every((id) => shown.includes(id));
  async function poll() {
    try {
      const response = await fetch("/api/messages", { cache: "no-store" });
      if (response.ok && !same(await response.json())) {
        window.location.reload();
        return;
      }
    } catch (error) {
      // the viewer or LocalStack is restarting: try again
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 1000);
})();
