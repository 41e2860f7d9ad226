// The reader's site (scripts/build_site.py): math, the chapter menu on a phone, and search.
// Plain browser JavaScript, no build step; everything it loads sits in _static/ beside it.
(function () {
  'use strict';

  // Math: MathJax 3 (TeX in, SVG out) typesets the markdown cells and the contents list only, so a
  // dollar sign printed by a cell's output stays text. Same delimiters as Jupyter's.
  window.MathJax = {
    tex: { inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']], processEscapes: true },
    startup: { elements: ['.text_cell_render', '.toc'] },
    options: { enableMenu: false },
  };
  var mj = document.createElement('script');
  mj.src = '_static/mathjax.js';
  mj.async = true;
  document.head.appendChild(mj);

  // The chapter menu: a column on wide screens, a panel behind the ☰ button on narrow ones.
  var toggle = document.getElementById('nav-toggle');
  toggle.addEventListener('click', function () {
    var open = document.body.classList.toggle('nav-open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  var narrow = window.matchMedia('(max-width: 60rem)').matches;
  var toc = document.querySelector('details.toc');
  if (toc && narrow) toc.open = false;

  // Search: every word of the query must occur in a section (a heading and the text under it, from
  // _static/search-index.js, built with the pages); headings count more than text.
  var input = document.getElementById('search');
  var list = document.getElementById('search-results');
  var sections = window.RLHF_SEARCH || [];
  var hay = sections.map(function (s) { return { head: s.h.toLowerCase(), text: s.t.toLowerCase() }; });

  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; });
  }
  function count(text, word) {
    var n = 0, i = text.indexOf(word);
    while (i >= 0 && n < 20) { n++; i = text.indexOf(word, i + word.length); }
    return n;
  }
  function snippet(s, words) {
    var text = s.t, lower = text.toLowerCase(), at = lower.indexOf(words[0]);
    var start = Math.max(0, at - 60), piece = text.slice(start, start + 180);
    // mark the words in the raw text, then escape each piece (marking escaped text could split an entity)
    var re = new RegExp(words.map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }).join('|'), 'gi');
    var out = '', last = 0, m;
    while ((m = re.exec(piece))) {
      out += escapeHtml(piece.slice(last, m.index)) + '<mark>' + escapeHtml(m[0]) + '</mark>';
      last = m.index + m[0].length;
    }
    out += escapeHtml(piece.slice(last));
    return (start > 0 ? '… ' : '') + out + (start + 180 < text.length ? ' …' : '');
  }
  function search(query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return [];
    var hits = [];
    hay.forEach(function (h, i) {
      var score = 0;
      for (var k = 0; k < words.length; k++) {
        var inHead = h.head.indexOf(words[k]) >= 0, n = count(h.text, words[k]);
        if (!inHead && !n) return;
        score += (inHead ? 10 : 0) + n;
      }
      hits.push({ i: i, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score || a.i - b.i; });
    return hits.slice(0, 20).map(function (h) { return { s: sections[h.i], words: words }; });
  }
  function show() {
    var q = input.value.trim();
    if (!q) { list.hidden = true; list.innerHTML = ''; return; }
    var hits = search(q);
    list.innerHTML = hits.length ? hits.map(function (h) {
      var url = h.s.p + (h.s.a ? '#' + h.s.a : ''); // ids come URL-escaped from nbconvert
      var where = h.s.h === h.s.c ? h.s.c : h.s.c + ' › ' + h.s.h;
      return '<li><a href="' + escapeHtml(url) + '"><b>' + escapeHtml(where) + '</b><span>' + snippet(h.s, h.words) + '</span></a></li>';
    }).join('') : '<li class="none">No section contains every word of “' + escapeHtml(q) + '”.</li>';
    list.hidden = false;
  }
  input.addEventListener('input', show);
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') { input.value = ''; show(); }
    if (e.key === 'Enter') {
      var first = list.querySelector('a');
      if (first) window.location.href = first.getAttribute('href');
    }
  });
  document.addEventListener('click', function (e) {
    if (!e.target.closest('.search')) list.hidden = true;
  });
  input.addEventListener('focus', function () { if (input.value.trim()) show(); });
})();
