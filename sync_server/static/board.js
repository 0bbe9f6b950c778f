// The public board reloads itself every data-refresh seconds, but only when the server answers: during an outage
// the lobby screen keeps the last board instead of showing an error page.
(function () {
  var seconds = parseInt(document.body.getAttribute("data-refresh"), 10) || 120;
  setInterval(function () {
    fetch(location.pathname, { cache: "no-store" }).then(function (r) {
      if (r.ok) { location.reload(); }
    }).catch(function () {});
  }, seconds * 1000);
})();
