// The ops page's live parts. An element with data-live-src is fetched
// again from that URL (a fragment rendered by the same templates as the
// page) every data-every milliseconds and replaced, without a page reload;
// <details> that were open stay open, and nothing is replaced while the
// operator is pressing or typing in it (a click must land on the button it
// began on). Elements with data-ms (a TTL in milliseconds when the fragment
// was read) count down between fetches.
// The script runs under the page's Content-Security-Policy: no inline
// code, no eval, fetches to the page's own origin only.
(function () {
  'use strict';

  var status = document.getElementById('live-status');

  function say(text, bad) {
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle('bad', !!bad);
  }

  function fmt(ms) {
    var s = Math.max(0, ms) / 1000;
    return (s >= 10 ? s.toFixed(0) : s.toFixed(1)) + 's';
  }

  function countdown(el, since) {
    var left;
    var nodes = el.querySelectorAll('[data-ms]');
    var elapsed = performance.now() - since;
    for (var i = 0; i < nodes.length; i++) {
      left = Math.max(0, parseInt(nodes[i].getAttribute('data-ms'), 10) - elapsed);
      if (nodes[i].tagName === 'PROGRESS') {
        nodes[i].value = left;
      } else {
        nodes[i].textContent = fmt(left);
      }
    }
  }

  function openKeys(el) {
    var keys = {};
    var open = el.querySelectorAll('details[open][data-key]');
    for (var i = 0; i < open.length; i++) { keys[open[i].getAttribute('data-key')] = true; }
    var closed = el.querySelectorAll('details[data-key]:not([open])');
    for (var j = 0; j < closed.length; j++) { keys[closed[j].getAttribute('data-key')] = false; }
    return keys;
  }

  function restore(el, keys) {
    var all = el.querySelectorAll('details[data-key]');
    for (var i = 0; i < all.length; i++) {
      var k = all[i].getAttribute('data-key');
      if (Object.prototype.hasOwnProperty.call(keys, k)) { all[i].open = keys[k]; }
    }
  }

  function live(el) {
    var src = el.getAttribute('data-live-src');
    var every = parseInt(el.getAttribute('data-every'), 10) || 1000;
    var since = performance.now();
    var okAt = new Date();
    var touched = -1e9;
    function touch() { touched = performance.now(); }
    ['pointerdown', 'mousedown', 'touchstart', 'keydown', 'focusin'].forEach(function (type) {
      el.addEventListener(type, touch, true);
    });
    function busy() { return performance.now() - touched < 1500; }
    setInterval(function () { countdown(el, since); }, 100);

    function poll() {
      if (busy()) { setTimeout(poll, 250); return; }
      fetch(src, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'text/html' } })
        .then(function (resp) {
          if (resp.status === 401) {
            say('Session ended: reload the page to log in again.', true);
            throw null;
          }
          return resp.text().then(function (html) {
            if (!resp.ok && resp.status !== 404) { throw new Error('HTTP ' + resp.status); }
            return html;
          });
        })
        .then(function (html) {
          if (busy()) { setTimeout(poll, 250); return; }
          var keys = openKeys(el);
          el.innerHTML = html;
          restore(el, keys);
          since = performance.now();
          okAt = new Date();
          el.classList.remove('stale');
          say('Live: updated ' + okAt.toLocaleTimeString() + '.');
          setTimeout(poll, every);
        })
        .catch(function (err) {
          if (err === null) { return; }
          el.classList.add('stale');
          say('Not updated since ' + okAt.toLocaleTimeString() + ' (' + (err && err.message || 'no answer') + '); retrying.', true);
          setTimeout(poll, every * 2);
        });
    }
    setTimeout(poll, every);
  }

  var parts = document.querySelectorAll('[data-live-src]');
  for (var i = 0; i < parts.length; i++) { live(parts[i]); }
})();
