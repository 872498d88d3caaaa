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
  // How the CLI weighs what an item holds (pipelines/publish/search.py), and the Pagefind weight of the
  // related words an item page carries (pipelines/publish/site/build.py), read from the page.
  var items = Math.max(1, Number(element.dataset.items) || 1);
  var maxWeight = Number(element.dataset.maxWordWeight);
  var relatedRanking = Number(element.dataset.relatedRankingWeight);
  var relatedWords = Number(element.dataset.relatedWordsWeight);
  var PAGES_READ = 20;  // at most this many pages' words are read to choose what to search for
  var api = null;

  function pagefind() {
    // Pagefind's own search API over the same bundles, to see which pages hold which words before
    // the UI shows them.
    if (!api) {
      api = import(element.dataset.bundlePath + "pagefind.js").then(function (found) {
        return found.options({ bundlePath: element.dataset.bundlePath }).then(function () {
          return Promise.all(bundles.map(function (path) { return found.mergeIndex(path); }));
        }).then(function () { return found; });
      });
    }
    return api;
  }

  // The query's terms as the CLI reads them (pipelines/publish/search.py, parse_query): each "quoted
  // phrase" whole, as written (Pagefind reads its punctuation as it read the pages'), and the other words
  // without the stop words unless nothing else is left.
  function queryTerms(query) {
    var phrases = [];
    var words = [];
    query.split('"').forEach(function (piece, i) {
      var found = piece.toLowerCase().match(/[\p{L}\p{N}_]+/gu) || [];
      if (i % 2 && found.length) {
        phrases.push('"' + piece.trim().toLowerCase() + '"');
      } else if (!(i % 2)) {
        words = words.concat(found);
      }
    });
    var content = words.filter(function (w) { return !stopwords.has(w); });
    if (content.length || phrases.length) {
      words = content;
    }
    return phrases.concat(words.filter(function (w, i) { return words.indexOf(w) === i; }));
  }

  // Whether each of a page's Pagefind results holds its term itself, not only among the page's related
  // words. One at a time: Pagefind hands every result of a page the same object, its locations
  // overwritten by each call.
  function holdsItself(results) {
    return results.reduce(function (done, result) {
      return done.then(function (found) {
        return result.data().then(function (data) {
          return found.concat([data.weighted_locations.some(function (location) {
            return location.weight > relatedWords;
          })]);
        });
      });
    }, Promise.resolve([]));
  }

  // The page the CLI would rank first among those holding some terms, as its two word rankings add up:
  // the weight of the terms a page holds itself, plus the related-word ranking's weight times the weight
  // of those it holds either way (`held`). Pages are read best `held` first, until none left can win.
  function bestPage(pages, at, best) {
    var page = pages[at];
    if (!page || at >= PAGES_READ || (best && (1 + relatedRanking) * page.held <= best.score)) {
      return Promise.resolve(best);
    }
    return holdsItself(page.results).then(function (itself) {
      var own = page.weights.reduce(function (sum, weight, i) { return sum + (itself[i] ? weight : 0); }, 0);
      var score = own + relatedRanking * page.held;
      return bestPage(pages, at + 1, !best || score > best.score ? { score: score, page: page } : best);
    });
  }

  // What to search for. Pagefind answers only pages holding every term, and counts stop words as terms,
  // so the CLI's terms are searched: those of the page the CLI would rank first, which are all of them
  // when a page holds every term. A term weighs as the CLI weighs it, by how rare it is (a phrase as the
  // rarest); a term no page holds is left out, as the CLI leaves out words its index lacks.
  function termsToSearch(query) {
    var terms = queryTerms(query);
    if (terms.length < 2) {
      return Promise.resolve({ terms: terms, dropped: [] });
    }
    return pagefind().then(function (found) {
      return Promise.all(terms.map(function (term) { return found.search(term); })).then(function (searches) {
        var byId = {};
        searches.forEach(function (search, i) {
          var rarity = Math.min(maxWeight, Math.log(1 + items / Math.max(1, search.results.length)));
          var weight = terms[i].charAt(0) === '"' ? maxWeight : rarity;
          search.results.forEach(function (result) {
            var page = byId[result.id] || (byId[result.id] = { held: 0, terms: [], weights: [], results: [] });
            page.held += weight;
            page.terms.push(terms[i]);
            page.weights.push(weight);
            page.results.push(result);
          });
        });
        var pages = Object.keys(byId).map(function (id) { return byId[id]; })
          .sort(function (a, b) { return b.held - a.held; });
        return bestPage(pages, 0, null);
      });
    }).then(function (best) {
      var chosen = best ? best.page.terms : terms;
      return {
        terms: terms.filter(function (term) { return chosen.indexOf(term) >= 0; }),  // in the query's order
        dropped: terms.filter(function (term) { return chosen.indexOf(term) < 0; }),
      };
    });
  }

  function search(query) {
    note.textContent = "";
    termsToSearch(query).catch(function () { return null; }).then(function (found) {
      var searched = found && found.terms.length ? found.terms.join(" ") : query;
      if (found && found.dropped.length) {
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
