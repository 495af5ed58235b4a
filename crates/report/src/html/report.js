// svdiag report: sorting and filtering of the tables, and the matrix detail (from <template>s).
// Everything else on the page is static; this script only rearranges what is already there.
(function () {
  "use strict";
  var doc = document;

  function cellValue(row, col, numeric) {
    var cell = row.cells[col];
    if (!cell) return numeric ? NaN : "";
    if (numeric) {
      var v = cell.getAttribute("data-v");
      return v === null || v === "" ? NaN : parseFloat(v);
    }
    return cell.textContent;
  }

  function sortBy(table, th) {
    var col = th.cellIndex;
    var numeric = th.getAttribute("data-type") === "n";
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, col, numeric), y = cellValue(b, col, numeric);
      if (numeric) {
        // undefined values last in both directions
        if (isNaN(x)) return isNaN(y) ? 0 : 1;
        if (isNaN(y)) return -1;
        return asc ? x - y : y - x;
      }
      return asc ? x.localeCompare(y) : y.localeCompare(x);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function applyFilter(tableId) {
    var table = doc.getElementById(tableId);
    if (!table) return;
    var input = doc.querySelector('input.filter[data-table="' + tableId + '"]');
    var flaggedBox = doc.querySelector('input.flagged-only[data-table="' + tableId + '"]');
    var re = null;
    if (input && input.value) {
      try { re = new RegExp(input.value, "i"); input.setCustomValidity(""); }
      catch (e) { input.setCustomValidity("not a regular expression"); re = null; }
    }
    var shown = 0, rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (!re || re.test(r.getAttribute("data-name") || "")) &&
        (!flaggedBox || !flaggedBox.checked || r.classList.contains("flagged"));
      r.hidden = !ok;
      if (ok) shown++;
    }
    var count = doc.querySelector('.shown[data-table="' + tableId + '"]');
    if (count) count.textContent = shown + " of " + rows.length + " shown";
  }

  function showMatrix(i, scroll) {
    var tpl = doc.getElementById("tpl-" + i);
    var view = doc.getElementById("detail-view");
    if (!tpl || !view) return false;
    view.replaceChildren(tpl.content.cloneNode(true));
    fillNumbers(view.querySelector("details.numbers tbody"), i);
    view.setAttribute("data-i", String(i));
    Array.prototype.forEach.call(doc.querySelectorAll("#matrix-table tr.selected"), function (r) { r.classList.remove("selected"); });
    var row = doc.getElementById("row-" + i);
    if (row) row.classList.add("selected");
    if (scroll) view.scrollIntoView({ block: "start" });
    return true;
  }

  // every field of matrix i, from the embedded document (values as the JSON has them)
  var data = null;
  function fillNumbers(tbody, i) {
    if (!tbody) return;
    if (data === null) data = JSON.parse(doc.getElementById("svdiag-data").textContent);
    var m = data.matrices[Number(i)];
    if (!m) return;
    Object.keys(m).forEach(function (k) {
      if (k === "esd" || k === "singular_values" || k === "undefined" || k === "notes") return;
      var tr = doc.createElement("tr"), th = doc.createElement("th"), td = doc.createElement("td");
      th.scope = "row";
      th.textContent = k;
      var v = m[k];
      td.textContent = v === null ? "- " + ((m.undefined && m.undefined[k]) || "") : (typeof v === "object" ? JSON.stringify(v) : String(v));
      tr.appendChild(th);
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
  }

  function indexOfName(name) {
    var rows = doc.querySelectorAll("#matrix-table tbody tr");
    for (var k = 0; k < rows.length; k++) {
      if (rows[k].getAttribute("data-name") === name) return rows[k].getAttribute("data-i");
    }
    return null;
  }

  function fromHash() {
    var h = location.hash;
    if (h.indexOf("#m=") === 0) {
      var i = indexOfName(decodeURIComponent(h.slice(3)));
      if (i !== null) showMatrix(i, true);
    } else if (h.indexOf("#s=") === 0) {
      var row = doc.getElementById("s-" + h.slice(3));
      if (row) { row.hidden = false; row.classList.add("selected"); row.scrollIntoView({ block: "center" }); }
    }
  }

  // the selected matrix in the address, for a link to it (not possible in a sandboxed frame)
  function remember(tr) {
    try { history.replaceState(null, "", "#m=" + encodeURIComponent(tr.getAttribute("data-name"))); } catch (e) { /* sandboxed */ }
  }

  // sortable headers: click or Enter
  Array.prototype.forEach.call(doc.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); sortBy(table, th); } });
    });
  });
  Array.prototype.forEach.call(doc.querySelectorAll("input.filter, input.flagged-only"), function (el) {
    var id = el.getAttribute("data-table");
    el.addEventListener("input", function () { applyFilter(id); });
    el.addEventListener("change", function () { applyFilter(id); });
    applyFilter(id);
  });

  // the matrix table opens the detail: click, Enter, and [ ] for the previous / next visible row
  var mt = doc.getElementById("matrix-table");
  if (mt) {
    mt.tBodies[0].addEventListener("click", function (e) {
      var tr = e.target.closest("tr");
      if (tr) { remember(tr); showMatrix(tr.getAttribute("data-i"), true); }
    });
    mt.tBodies[0].addEventListener("keydown", function (e) {
      var tr = e.target.closest("tr");
      if (tr && e.key === "Enter") { remember(tr); showMatrix(tr.getAttribute("data-i"), true); }
    });
    doc.addEventListener("keydown", function (e) {
      if ((e.key !== "[" && e.key !== "]") || (e.target && e.target.tagName === "INPUT")) return;
      var rows = Array.prototype.filter.call(mt.tBodies[0].rows, function (r) { return !r.hidden; });
      var cur = doc.getElementById("detail-view").getAttribute("data-i");
      var pos = rows.findIndex(function (r) { return r.getAttribute("data-i") === cur; });
      var next = rows[Math.max(0, Math.min(rows.length - 1, pos + (e.key === "]" ? 1 : -1)))];
      if (next) showMatrix(next.getAttribute("data-i"), false);
    });
  }

  // heat maps: one metric at a time
  var sel = doc.getElementById("heat-metric");
  if (sel) {
    sel.addEventListener("change", function () {
      Array.prototype.forEach.call(doc.querySelectorAll(".heat"), function (g) { g.hidden = g.getAttribute("data-metric") !== sel.value; });
    });
  }

  window.addEventListener("hashchange", fromHash);
  fromHash();
  doc.body.setAttribute("data-ready", "1");
})();
