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
  // A refused form: bring the error list into view so a keyboard user lands on it (the
  // user page keeps an empty, hidden list when there is nothing to fix).
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("errors-top");
    if (summary && !summary.hidden) summary.focus();
  });
})();
(function () {
  // User pin: masked until the admin clicks the field or the pencil; the policy's rules
  // are checked as they type (the server checks them again on Continue).
  function isSequence(pin) {
    if (pin.length < 3) return false;
    var up = true, down = true;
    for (var i = 1; i < pin.length; i++) {
      var step = pin.charCodeAt(i) - pin.charCodeAt(i - 1);
      if (step !== 1) up = false;
      if (step !== -1) down = false;
    }
    return up || down;
  }
  function checkPin(box) {
    var input = box.querySelector("input[name=user_pin]");
    var pin = input.value, rules = box.querySelectorAll(".pin-rules li");
    var dns = (box.getAttribute("data-dns") || "").split(",");
    var results = [/^[0-9]{0,8}$/.test(pin), pin.length >= parseInt(box.getAttribute("data-min") || "0", 10)];
    if (box.getAttribute("data-repeated") === "true") results.push(!(pin.length > 1 && /^(\d)\1+$/.test(pin)));
    if (box.getAttribute("data-sequences") === "true") results.push(!isSequence(pin));
    if (box.getAttribute("data-dn") === "true") results.push(dns.indexOf(pin) < 0);
    rules.forEach(function (li, i) {
      li.classList.toggle("ok", pin !== "" && results[i] === true);
      li.classList.toggle("broken", pin !== "" && results[i] === false);
    });
  }
  function startEditing(box) {
    var input = box.querySelector("input[name=user_pin]");
    if (!input.readOnly) return;
    input.readOnly = false;
    input.type = "text";
    input.placeholder = "";
    box.querySelector("input[name=pin_edited]").value = "1";
    input.focus();
  }
  document.addEventListener("click", function (event) {
    var box = event.target.closest("[data-pin-editor]");
    if (box && (event.target.closest(".edit-pin") || event.target.name === "user_pin")) startEditing(box);
    var copy = event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(document.getElementById(copy.getAttribute("data-copy")).textContent);
      copy.textContent = "✓";
    }
  });
  document.addEventListener("input", function (event) {
    var box = event.target.closest("[data-pin-editor]");
    if (box) checkPin(box);
  });
  // Auto-generate (htmx) swaps in the pin field with the suggestion filled in: check it
  // against the rules and put the focus on it, as if the admin had typed it.
  document.addEventListener("htmx:load", function (event) {
    var box = event.target.closest ? event.target.closest("[data-pin-editor][data-suggested]") : null;
    if (!box) return;
    checkPin(box);
    box.querySelector("input[name=user_pin]").focus();
  });
  // "Select a phone": the additional options belong to a hot desk only.
  function syncPhoneOptions(form) {
    var type = form.querySelector("select[name=type]").value;
    var options = form.querySelector(".hot-desk-options");
    if (options) options.hidden = type !== "hot_desk";
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest("[data-add-phone]");
    if (form) syncPhoneOptions(form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-add-phone]").forEach(syncPhoneOptions);
    document.querySelectorAll("[data-pin-editor]").forEach(function (box) {
      if (!box.querySelector("input[name=user_pin]").readOnly) checkPin(box);
    });
    var dialog = document.querySelector("dialog[open]");
    var summary = document.getElementById("errors-top");
    if (dialog && !(summary && !summary.hidden)) {
      var first = dialog.querySelector("select, input:not([type=hidden]), button");
      if (first) first.focus();
    }
  });
})();
// "Select all" boxes tick every box of the same name.
document.addEventListener("change", function (event) {
  var name = event.target.getAttribute && event.target.getAttribute("data-select-all");
  if (!name) return;
  document.querySelectorAll("input[name=" + name + "]").forEach(function (box) { box.checked = event.target.checked; });
});
// The language selector (and any select marked data-autosubmit) sends its form on change.
document.addEventListener("change", function (event) {
  var select = event.target;
  if (select.hasAttribute && select.hasAttribute("data-autosubmit") && select.form) select.form.submit();
});
