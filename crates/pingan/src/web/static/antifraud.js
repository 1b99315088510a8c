// pingan anti-fraud pages: the time left on each deadline, counted down; and the live queue,
// refetched whenever the event stream says a case in the caller's jurisdiction changed.
(function () {
  "use strict";
  var queue = document.getElementById("case-queue");
  // The server's clock, not the phone's: deadlines are server times.
  var serverNow = queue ? Number(queue.getAttribute("data-now")) : NaN;
  var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var now = Date.now() + offset;
    var nodes = document.querySelectorAll("[data-due]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var due = Number(el.getAttribute("data-due"));
      var secs = Math.floor(Math.abs(due - now) / 1000);
      var late = due < now;
      el.textContent = (late ? el.getAttribute("data-late") : el.getAttribute("data-left")) + " " +
        pad(Math.floor(secs / 60)) + ":" + pad(secs % 60);
      el.classList.toggle("late", late);
    }
  }
  tick();
  window.setInterval(tick, 1000);

  if (!queue || !window.EventSource || !window.fetch) { return; }
  var url = queue.getAttribute("data-live");
  var pending = null;
  function refresh() {
    pending = null;
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        queue.innerHTML = html;
        queue.setAttribute("data-refreshed", String(Date.now()));
        tick();
      })
      .catch(function () {});
  }
  var source = new EventSource("/api/v1/events");
  source.addEventListener("antifraud.case", function () {
    // Several changes at once (a batch) refetch the list once.
    if (pending === null) { pending = window.setTimeout(refresh, 300); }
  });
  source.addEventListener("open", function () { queue.setAttribute("data-live-open", "1"); });
})();
