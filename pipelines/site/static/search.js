// Starts Pagefind's search UI on the search page. A file of its own, so the
// Content-Security-Policy can forbid inline script everywhere.
window.addEventListener("DOMContentLoaded", function () {
  var element = document.getElementById("search");
  if (!element || typeof PagefindUI === "undefined") {
    return;
  }
  // A large hub's index is split into several bundles (pipelines/site/pagefind.py); search them all.
  var merged = (element.dataset.mergeBundles || "").split(" ").filter(Boolean).map(function (path) {
    return { bundlePath: path };
  });
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: element.dataset.bundlePath,
    mergeIndex: merged,
    showSubResults: false,
    showImages: false,
    resetStyles: false,
    autofocus: false,
    translations: { placeholder: "Search stories, techniques and assets" },
  });
  // Pagefind's input is labelled only by its placeholder; give it an accessible name.
  var input = element.querySelector("input");
  if (input) {
    input.setAttribute("aria-label", "Search the hub");
  }
  // Let a link such as /search/?q=open+data (the home page's form) start a search.
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
});
