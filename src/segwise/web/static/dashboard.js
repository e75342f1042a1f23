// Draw every chart of the page from the JSON the server put in it; mark each as drawn.
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
  if (charts.length === 0) { document.body.setAttribute("data-charts-drawn", "true"); }
  charts.forEach(function (chart) {
    var div = document.getElementById("chart-" + chart.key);
    if (!div) { finished(); return; }
    Plotly.newPlot(div, chart.figure.data, chart.figure.layout, config).then(function () {
      div.setAttribute("data-drawn", "true");
      finished();
    });
  });
})();
