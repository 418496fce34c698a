// The run browser's behaviour (written by patchmix; no libraries). Pages read fully without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Index: filter the candidate table by language, repo, verdict, exit status, model, integrity flag and instance id.
  // Filters can be preset from the query string: index.html?verdict=resolved&repo=owner/name
  function setUpFilters() {
    var form = document.getElementById("filters");
    var table = document.getElementById("candidate-table");
    if (!form || !table) return;
    var controls = form.querySelectorAll("[data-filter]");
    var params = new URLSearchParams(window.location.search);
    controls.forEach(function (control) {
      var key = control.getAttribute("data-filter");
      if (params.has(key)) control.value = params.get(key);
      control.addEventListener("input", apply);
      control.addEventListener("change", apply);
    });
    function apply() {
      var wanted = {};
      controls.forEach(function (c) { wanted[c.getAttribute("data-filter")] = c.value.trim(); });
      var rows = table.querySelectorAll("tbody tr.cand");
      var shown = 0;
      rows.forEach(function (row) {
        var ok = ["language", "repo", "verdict", "exit", "model", "flagged"].every(function (key) {
          return !wanted[key] || row.getAttribute("data-" + key) === wanted[key];
        });
        var text = (wanted.text || "").toLowerCase();
        ok = ok && (!text || row.getAttribute("data-instance").toLowerCase().indexOf(text) !== -1);
        row.hidden = !ok;
        if (ok) shown += 1;
      });
      document.getElementById("shown-count").textContent = shown + " of " + rows.length + " shown";
    }
    apply();
  }

  // Instance page: one candidate's run at a time, chosen by tab, by ?candidate=<key> or by the URL's #fragment.
  function setUpTabs() {
    var panels = document.querySelectorAll("article.panel");
    if (!panels.length) return;
    function show(key) {
      var found = false;
      panels.forEach(function (p) { if (p.getAttribute("data-key") === key) found = true; });
      if (!found) key = panels[0].getAttribute("data-key");
      panels.forEach(function (p) { p.hidden = p.getAttribute("data-key") !== key; });
      document.querySelectorAll(".tab").forEach(function (t) {
        t.classList.toggle("active", t.getAttribute("data-show") === key);
      });
    }
    document.querySelectorAll("[data-show]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var key = link.getAttribute("data-show");
        history.replaceState(null, "", "#" + key);
        show(key);
        document.getElementById("runs").scrollIntoView();
      });
    });
    var hash = window.location.hash.replace(/^#/, "");
    var asked = new URLSearchParams(window.location.search).get("candidate");
    show(asked || hash.split("-step-")[0]);
  }

  // Instance page: a candidate's diff side by side with another candidate's, on request.
  // ?compare=<candidate key> opens every page's diffs beside that candidate's.
  function setUpCompare() {
    var preset = new URLSearchParams(window.location.search).get("compare");
    document.querySelectorAll("select.compare").forEach(function (select) {
      var diffs = select.closest("article").querySelector(".diffs");
      var other = diffs.querySelector(".diff-col.other");
      select.addEventListener("change", function () {
        var key = select.value;
        var source = key && document.querySelector('.diff-box[data-diff="' + key + '"]');
        if (!source) { other.hidden = true; return; }
        other.querySelector(".diff-box").innerHTML = source.innerHTML;
        other.querySelector(".diff-title").textContent = select.options[select.selectedIndex].text;
        other.hidden = false;
      });
      if (preset && select.querySelector('option[value="' + preset + '"]')) select.value = preset;
      if (select.value) select.dispatchEvent(new Event("change"));
    });
  }

  setUpFilters();
  setUpTabs();
  setUpCompare();
})();
