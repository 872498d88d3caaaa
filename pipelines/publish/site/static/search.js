// Starts Pagefind's search UI on the search page. A file of its own, so the
// Content-Security-Policy can forbid inline script everywhere.
window.addEventListener("DOMContentLoaded", function () {
  var element = document.getElementById("search");
  if (!element || typeof PagefindUI === "undefined") {
    return;
  }
  // A large hub's index is split into several bundles (pipelines/site/pagefind.py); search them all.
  var bundles = (element.dataset.mergeBundles || "").split(" ").filter(Boolean);
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: element.dataset.bundlePath,
    mergeIndex: bundles.map(function (path) {
      return { bundlePath: path };
    }),
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
  var note = document.getElementById("search-note");
  var stopwords = new Set((element.dataset.stopwords || "").split(" "));
  var api = null;

  function pagefind() {
    // Pagefind's own search API over the same bundles, to count matches before the UI shows them.
    if (!api) {
      api = import(element.dataset.bundlePath + "pagefind.js").then(function (found) {
        return found.options({ bundlePath: element.dataset.bundlePath }).then(function () {
          return Promise.all(bundles.map(function (path) { return found.mergeIndex(path); }));
        }).then(function () { return found; });
      });
    }
    return api;
  }

  function count(found, words) {
    return found.search(words.join(" ")).then(function (search) { return search.results.length; });
  }

  // Pagefind answers only pages holding every word. When none holds them all, search instead for the
  // words some page does hold together, the rarest first (as the CLI ranks items by the rarer words
  // they cover), without the stop words, and say so.
  function someWords(query) {
    var words = (query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter(function (w) { return !stopwords.has(w); });
    return pagefind().then(function (found) {
      return count(found, query.split(/\s+/)).then(function (all) {
        if (all > 0 || words.length === 0) {
          return null;
        }
        return Promise.all(words.map(function (w) { return count(found, [w]); })).then(function (counts) {
          var rarest = words.map(function (w, i) { return [w, counts[i]]; })
            .filter(function (pair) { return pair[1] > 0; })
            .sort(function (a, b) { return a[1] - b[1]; })
            .map(function (pair) { return pair[0]; });
          return rarest.reduce(function (kept, word) {
            return kept.then(function (chosen) {
              var trial = chosen.concat([word]);
              return count(found, trial).then(function (n) { return n > 0 ? trial : chosen; });
            });
          }, Promise.resolve([])).then(function (chosen) {
            return words.filter(function (w) { return chosen.indexOf(w) >= 0; });  // in the query's order
          });
        });
      });
    });
  }

  function search(query) {
    note.textContent = "";
    someWords(query).catch(function () { return null; }).then(function (words) {
      var searched = query;
      if (words && words.length) {
        searched = words.join(" ");
        note.textContent = "No item holds every word of \u201c" + query + "\u201d: showing items with " + searched + ".";
      }
      ui.triggerSearch(searched);
      element.dataset.searchedFor = searched;
      element.dataset.searched = query;
    });
  }

  // A query given whole (a link such as /search/?q=open+data, the home page's form, or Enter in the
  // box) is searched with the fallback; while someone types, the UI searches as they type.
  if (input) {
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && input.value.trim()) {
        search(input.value.trim());
      }
    });
  }
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    search(query);
  }
});
