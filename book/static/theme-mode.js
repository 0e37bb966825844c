// pydata-sphinx-theme logs "Got invalid theme mode" on a first visit, when no mode is
// stored yet. Store the theme's own default ("auto") before its script reads it.
if (!localStorage.getItem("mode")) { localStorage.setItem("mode", "auto"); }
if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = localStorage.getItem("mode"); }
