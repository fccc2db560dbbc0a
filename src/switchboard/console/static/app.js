// Small progressive enhancements; every page works without them.
(function () {
  // Error lists: a click moves focus to the field (or phone) at fault, not just the scroll.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-focus]");
    if (!link) return;
    var target = document.getElementById(link.getAttribute("data-focus"));
    if (!target) return;
    event.preventDefault();
    target.scrollIntoView({ block: "center" });
    if (!target.hasAttribute("tabindex") && !/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(target.tagName)) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
  });
  // A refused form: bring the error list into view so a keyboard user lands on it.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("errors-top");
    if (summary) summary.focus();
  });
})();
