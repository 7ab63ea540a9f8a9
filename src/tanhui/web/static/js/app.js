// tanhui web UI: the little the pages need beyond htmx. No inline scripts (CSP: script-src 'self').
(function () {
  "use strict";

  // A request htmx could not complete and did not swap (5xx, network down): say so in the flash
  // area instead of failing silently. 4xx answers are messages the server rendered; htmx swaps them.
  function showError(evt) {
    var xhr = evt.detail && evt.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.status < 500) {
      return;
    }
    var area = document.getElementById("flash");
    if (!area) {
      return;
    }
    var box = document.createElement("div");
    box.className = "msg msg-error";
    box.setAttribute("role", "alert");
    box.textContent = document.body.getAttribute("data-error-message") +
      (xhr && xhr.status ? " (HTTP " + xhr.status + ")" : "");
    area.replaceChildren(box);
  }

  document.addEventListener("htmx:responseError", showError);
  document.addEventListener("htmx:sendError", showError);

  // The user menu closes when one clicks elsewhere.
  document.addEventListener("click", function (evt) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(evt.target)) {
        menu.removeAttribute("open");
      }
    });
  });
})();
