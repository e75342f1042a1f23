// Draw every chart of the page from the JSON the server put in it; mark each as drawn.
// A chart that cannot be drawn says so in its place, and the others still draw.
(function () {
  "use strict";
  var data = document.getElementById("charts-data");
  var charts = data ? JSON.parse(data.textContent) : [];
  var config = {displaylogo: false, responsive: true, showLink: false,
                modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"]};
  var done = 0;
  function finished() {
    done += 1;
    if (done === charts.length) { document.body.setAttribute("data-charts-drawn", "true"); }
  }
  function failed(div, error) {
    console.error("chart " + div.id + " could not be drawn:", error);
    try { Plotly.purge(div); } catch (ignored) { /* nothing drawn to remove */ }
    var message = document.createElement("p");
    message.className = "chart-failed";
    message.textContent = "This chart could not be drawn (" +
      ((error && error.message) || String(error)) + "); the tables on this page hold its data.";
    while (div.firstChild) { div.removeChild(div.firstChild); }
    div.appendChild(message);
    div.setAttribute("data-failed", "true");
    finished();
  }
  if (charts.length === 0) { document.body.setAttribute("data-charts-drawn", "true"); }
  charts.forEach(function (chart) {
    var div = document.getElementById("chart-" + chart.key);
    if (!div) { finished(); return; }
    try {
      Plotly.newPlot(div, chart.figure.data, chart.figure.layout, config).then(function () {
        div.setAttribute("data-drawn", "true");
        finished();
      }, function (error) { failed(div, error); });
    } catch (error) {
      failed(div, error);
    }
  });
  // Another After run has other runs to compare with: Before goes back to its default.
  var after = document.querySelector("#compare select[name=b]");
  var before = document.querySelector("#compare select[name=a]");
  if (after && before) {
    after.addEventListener("change", function () { before.value = ""; });
  }
})();
