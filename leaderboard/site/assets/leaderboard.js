// oscbench leaderboard: sortable, filterable tables. No network, no innerHTML: rows are only
// reordered and shown or hidden, so text from submissions is never parsed as markup.
(function () {
  "use strict";

  function cellValue(row, col, numeric) {
    var cell = row.cells[col];
    if (!cell) { return numeric ? NaN : ""; }
    var v = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    return numeric ? (v === "" ? NaN : parseFloat(v)) : v.toLowerCase();
  }

  function sortTable(table, col, numeric, th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (r, k) { r.setAttribute("data-index", String(k)); });
    rows.sort(function (a, b) {
      var x = cellValue(a, col, numeric), y = cellValue(b, col, numeric);
      if (numeric) {
        var xn = isNaN(x), yn = isNaN(y);
        if (xn || yn) { return xn === yn ? 0 : (xn ? 1 : -1); }  // blanks last either way
        if (x !== y) { return sign * (x < y ? -1 : 1); }
      } else if (x !== y) {
        return sign * (x < y ? -1 : 1);
      }
      return parseInt(a.getAttribute("data-index"), 10) - parseInt(b.getAttribute("data-index"), 10);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  // The filter state lives in the query string (?q=...&board=...&superseded=1), so a filtered view can
  // be bookmarked, shared and reloaded; the hash stays free for the board anchors.
  function readState() {
    var p = new URLSearchParams(window.location.search);
    var board = p.get("board") || "";
    var select = document.getElementById("board-filter");
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === board; });
    document.getElementById("filter").value = p.get("q") || "";
    select.value = known ? board : "";
    document.getElementById("show-superseded").checked = p.get("superseded") === "1";
  }

  function writeState() {
    var p = new URLSearchParams();
    var q = document.getElementById("filter").value;
    var board = document.getElementById("board-filter").value;
    if (q) { p.set("q", q); }
    if (board) { p.set("board", board); }
    if (document.getElementById("show-superseded").checked) { p.set("superseded", "1"); }
    var search = p.toString();
    var url = window.location.pathname + (search ? "?" + search : "") + window.location.hash;
    try { window.history.replaceState(null, "", url); } catch (e) { /* some file:// hosts refuse; filters still work */ }
  }

  function applyFilters() {
    var q = (document.getElementById("filter").value || "").toLowerCase().trim();
    var showOld = document.getElementById("show-superseded").checked;
    var board = document.getElementById("board-filter").value;
    document.body.classList.toggle("hide-superseded", !showOld);
    var sections = document.querySelectorAll("section.board");
    for (var s = 0; s < sections.length; s++) {
      var sec = sections[s];
      sec.hidden = board !== "" && sec.id !== board;
      if (board !== "" && sec.id === board) {  // a chosen board opens even when collapsed
        for (var el = sec; el; el = el.parentElement) {
          if (el.tagName === "DETAILS") { el.open = true; }
        }
        var own = sec.querySelector("details");
        if (own) { own.open = true; }
      }
      var rows = sec.querySelectorAll("table.entries tbody tr");
      for (var i = 0; i < rows.length; i++) {
        var text = (rows[i].getAttribute("data-search") || "").toLowerCase();
        rows[i].classList.toggle("filtered-out", q !== "" && text.indexOf(q) < 0);
      }
    }
    var groups = document.querySelectorAll("details.game-boards");
    for (var g = 0; g < groups.length; g++) {
      groups[g].hidden = board !== "" && !groups[g].querySelector("section.board:not([hidden])");
    }
  }

  function onChange() {
    applyFilters();
    writeState();
  }

  function init() {
    var tables = document.querySelectorAll("table.sortable");
    for (var t = 0; t < tables.length; t++) {
      (function (table) {
        var heads = table.tHead.rows[0].cells;
        for (var c = 0; c < heads.length; c++) {
          (function (th, col) {
            var btn = th.querySelector("button");
            if (!btn) { return; }
            btn.addEventListener("click", function () {
              sortTable(table, col, th.getAttribute("data-type") === "num", th);
            });
          })(heads[c], c);
        }
      })(tables[t]);
    }
    ["filter", "show-superseded", "board-filter"].forEach(function (id) {
      var el = document.getElementById(id);
      el.addEventListener("input", onChange);
      el.addEventListener("change", onChange);
    });
    readState();
    document.body.classList.add("js");
    applyFilters();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
