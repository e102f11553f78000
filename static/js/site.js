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
