// Live updates: when the store records something, the page is fetched again and its <main>
// replaced. Pages read fine without this script; it only keeps them current.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource || !window.fetch) return;
  var busy = false;
  var again = false;

  function openDetails() {
    return Array.prototype.map.call(main.querySelectorAll("details[open]"), function (d) {
      var holder = d.closest("[id]");
      return holder ? holder.id : null;
    });
  }

  function typing() {
    var active = document.activeElement;
    return active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh() {
    if (busy) { again = true; return; }
    // Never swap a form out from under someone filling it in; the next change refreshes.
    if (typing()) return;
    busy = true;
    again = false;
    var open = openDetails();
    fetch(window.location.href, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main[data-live]");
        if (!fresh) return;
        main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
        open.forEach(function (id) {
          var holder = id && document.getElementById(id);
          var details = holder && holder.querySelector("details");
          if (details) details.open = true;
        });
        document.dispatchEvent(new CustomEvent("herald:refreshed"));
      })
      .catch(function () { /* the next change tries again */ })
      .then(function () {
        busy = false;
        if (again) refresh();
      });
  }

  new EventSource("/ui/live").addEventListener("change", refresh);
  // Relative times ("3 min ago") and next due times age without any change: a visible page is
  // fetched again once a minute too.
  window.setInterval(function () {
    if (document.visibilityState === "visible") refresh();
  }, 60000);
})();
