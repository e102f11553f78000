// Progressive enhancement only: every page works without this file.
// After htmx replaces a region, move keyboard focus to its status message (if any), so a
// keyboard or screen-reader user hears what happened and continues from there.
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target;
  if (!target || target.id === "results") {
    return; // live search: keep typing in the search field
  }
  var region = document.getElementById(target.id) || target;
  var status = region.querySelector("[role=status], [role=alert]");
  if (status) {
    status.setAttribute("tabindex", "-1");
    status.focus();
  }
});

// The main navigation folds behind a menu button on a phone (CSS decides when): the button is
// a real <button>, so Enter and Space work, and aria-expanded tells what it does.
document.addEventListener("DOMContentLoaded", function () {
  var toggle = document.querySelector(".nav-toggle");
  if (!toggle) {
    return;
  }
  toggle.closest(".main-nav").classList.add("foldable");
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", open ? "false" : "true");
  });
});
