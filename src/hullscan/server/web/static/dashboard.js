// Dashboard charts (Chart.js, vendored): risks per category stacked by severity, and the 30-day trend.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const text = JSON.parse(document.getElementById("chart-labels").textContent);
  const colours = ["#991b1b", "#c2410c", "#a16207", "#1d4ed8", "#4b5563", "#9ca3af"];
  Chart.defaults.animation = false;
  new Chart(document.getElementById("chart-risks"), {
    type: "bar",
    data: {
      labels: text.cats,
      datasets: data.severities.map((s, i) => ({ label: text.sevs[i], data: data.counts[i], backgroundColor: colours[i] })),
    },
    options: { maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
  new Chart(document.getElementById("chart-trend"), {
    type: "line",
    data: {
      labels: data.days.map((d) => d.slice(5)),
      datasets: [
        { label: text.new, data: data.new_findings, borderColor: "#c2410c", tension: 0.2 },
        { label: text.scans, data: data.scans, borderColor: "#1d4ed8", tension: 0.2 },
      ],
    },
    options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
  });
})();
