// Keyboard shortcuts of the reviewer's page (a static file, no inline script: the CSP allows
// scripts from our own origin only). a approves, r rejects, n opens the next held ad; they
// are off while typing in a field (Esc leaves it). A short reason is caught here first.
(function () {
  "use strict";
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector(".review");
    if (!root) return;
    var form = document.getElementById("review-form");
    var reason = form && form.querySelector("textarea[name=reason]");
    var counter = document.getElementById("reason-count");
    function count() {
      if (reason && counter) counter.textContent = String(reason.value.trim().length);
    }
    if (reason) {
      reason.addEventListener("input", count);
      count();
    }
    function decide(buttonId) {
      var button = document.getElementById(buttonId);
      if (!form || !button || button.disabled) return;
      var minimum = parseInt(reason.getAttribute("minlength") || "0", 10);
      if (reason.value.trim().length < minimum) {
        reason.focus();
        reason.classList.add("needs-more");
        return;
      }
      form.requestSubmit(button);
    }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && typing(event.target)) {
        event.target.blur();
        return;
      }
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "a") {
        event.preventDefault();
        decide("decide-approve");
      } else if (event.key === "r") {
        event.preventDefault();
        decide("decide-reject");
      } else if (event.key === "n") {
        event.preventDefault();
        window.location.assign(root.getAttribute("data-next-url"));
      }
    });
  });
})();
