"use strict";
// The rcptguard-admin page: sign in with a token, then the caller's domains (status, cache
// flush, list upload, SMTP tester) and, for operators, counters and greylisting. Text is
// always set with textContent: nothing from the server is parsed as HTML.
(function () {
  var token = sessionStorage.getItem("rg-token") || "";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function api(method, path, body, ctype) {
    var opts = { method: method, headers: { "Authorization": "Bearer " + token } };
    if (body !== undefined) { opts.body = body; opts.headers["Content-Type"] = ctype || "application/json"; }
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = JSON.parse(t); } catch (e) { j = { error: t }; }
        return { status: r.status, body: j };
      });
    });
  }
  function when(t) { return t ? new Date(t * 1000).toISOString().replace(".000", "") : ""; }
  function say(p, text, bad) { p.textContent = text; p.className = p.className.replace(/ ?err/, "") + (bad ? " err" : ""); }

  function statusRows(dl, d) {
    dl.textContent = "";
    function row(k, v) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
    row("Destination", d.hosts ? d.hosts : "(none configured)");
    row("Sources", (d.sources || []).join(", "));
    var l = d.list || {};
    if (!l.configured) row("Recipient list", "not configured");
    else row("Recipient list", (l.in_force ? l.entries + " addresses in force" : "no version in force") +
             (l.state ? "; file " + l.state.replace("_", " ") : "") + (l.reason ? " (" + l.reason + ")" : ""));
    var c = d.catchall || {};
    row("Catch-all", c.result === "yes" ? "yes: the server accepts any recipient" :
        c.result === "no" ? "no (checked " + when(c.checked) + ")" : "not known yet");
  }

  function domainSection(d) {
    var s = document.importNode($("#domain-tpl").content, true).firstElementChild;
    var name = d.domain, base = "/api/v1/domains/" + encodeURIComponent(name);
    s.id = "domain-" + name;
    $(".dname", s).textContent = name;
    statusRows($(".status", s), d);
    var fmsg = $(".flush-msg", s);
    function flush(q, what) {
      say(fmsg, "Clearing " + what + "…");
      api("DELETE", base + "/cache" + q).then(function (r) {
        if (r.status === 200) say(fmsg, "Cleared " + r.body.flushed + " cached verdict(s) (" + what + ").");
        else say(fmsg, "Not cleared: " + r.body.error, true);
      });
    }
    $(".flush-all", s).addEventListener("click", function () { flush("", "all"); });
    $(".flush-neg", s).addEventListener("click", function () { flush("?negative=1", "negative only"); });
    $(".flush-one", s).addEventListener("submit", function (ev) {
      ev.preventDefault();
      var a = ev.target.address.value.trim();
      flush("?address=" + encodeURIComponent(a), a);
    });
    $(".upload", s).addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = ev.target.file.files[0], msg = $(".upload-msg", s), ol = $(".problems", s);
      ol.textContent = "";
      if (!f) return;
      say(msg, "Uploading " + f.name + "…");
      f.text().then(function (text) {
        return api("PUT", base + "/list", text, "text/plain");
      }).then(function (r) {
        var l = (r.body && r.body.list) || {};
        if (r.status === 200) say(msg, "List in force: " + l.entries + " addresses.");
        else if (r.status === 409) say(msg, "List held by the shrink guard: " + (l.reason || "") +
                                      " (an operator can accept it).", true);
        else if (r.status === 422) {
          say(msg, "List refused: " + r.body.problems.length + " problem(s); the list in force is unchanged.", true);
          r.body.problems.forEach(function (p) {
            ol.appendChild(el("li", (p.line ? "line " + p.line + ": " : "") + p.message));
          });
        } else say(msg, "Upload failed: " + r.body.error, true);
        return refreshDomain(s, name);
      });
    });
    $(".probe", s).addEventListener("submit", function (ev) {
      ev.preventDefault();
      var rcpt = ev.target.rcpt.value.trim(), msg = $(".probe-msg", s), t = $(".steps", s), tb = $("tbody", t);
      say(msg, "Testing the mail server of " + name + "…");
      tb.textContent = "";
      api("POST", base + "/probe", JSON.stringify(rcpt ? { rcpt: rcpt } : {})).then(function (r) {
        if (r.status !== 200) { say(msg, "Test not run: " + r.body.error, true); return; }
        r.body.steps.forEach(function (st) {
          var tr = el("tr");
          tr.appendChild(el("td", st.step));
          tr.appendChild(el("td", st.ok ? "ok" : "FAIL", st.ok ? "ok" : "fail"));
          tr.appendChild(el("td", st.detail));
          tb.appendChild(tr);
        });
        t.hidden = false;
        say(msg, (r.body.usable ? "Usable: " : "Not usable: ") + r.body.summary, !r.body.usable);
      });
    });
    return s;
  }

  function refreshDomain(s, name) {
    return api("GET", "/api/v1/domains/" + encodeURIComponent(name)).then(function (r) {
      if (r.status === 200) statusRows($(".status", s), r.body);
    });
  }

  function loadOps() {
    api("GET", "/api/v1/stats").then(function (r) {
      var tb = $("#counters tbody");
      tb.textContent = "";
      if (r.status !== 200) return;
      r.body.counters.forEach(function (c) {
        if (!c.value) return;
        var labels = Object.keys(c.labels).map(function (k) { return k + "=" + c.labels[k]; }).join(", ");
        var tr = el("tr");
        tr.appendChild(el("td", c.metric + (labels ? " {" + labels + "}" : "")));
        tr.appendChild(el("td", String(c.value)));
        tb.appendChild(tr);
      });
    });
    api("GET", "/api/v1/greylist").then(function (r) {
      var tb = $("#greylist tbody");
      tb.textContent = "";
      if (r.status !== 200) return;
      r.body.records.forEach(function (g) {
        var tr = el("tr");
        [g.type, g.network, g.sender || "", g.recipient || "", g.state || g.kind, when(g.expires)].forEach(function (v) {
          tr.appendChild(el("td", v));
        });
        tb.appendChild(tr);
      });
    });
  }

  function signedIn(r) {
    var box = $("#domains");
    box.textContent = "";
    $("#signin").hidden = true;
    $("#signout").hidden = false;
    $("#who").textContent = "Signed in as " + r.body.token + (r.body.operator ? " (operator)" : "");
    r.body.domains.forEach(function (d) { box.appendChild(domainSection(d)); });
    $("#ops").hidden = !r.body.operator;
    if (r.body.operator) loadOps();
    var first = $("#domains button, #ops button");
    if (first) first.focus();
  }

  function signIn() {
    return api("GET", "/api/v1/domains").then(function (r) {
      if (r.status === 200) { signedIn(r); return; }
      sessionStorage.removeItem("rg-token");
      token = "";
      say($("#signin-msg"), r.status === 401 ? "This token is not valid." : "Sign-in failed: " + r.body.error, true);
      $("#token").focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("#signin-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      token = $("#token").value.trim();
      sessionStorage.setItem("rg-token", token);
      signIn();
    });
    $("#signout").addEventListener("click", function () {
      sessionStorage.removeItem("rg-token");
      location.reload();
    });
    $("#counters-refresh").addEventListener("click", loadOps);
    $("#greylist-refresh").addEventListener("click", loadOps);
    $("#greylist-allow").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/api/v1/greylist", JSON.stringify({ ip: $("#gl-ip").value.trim() })).then(function (r) {
        say($("#greylist-msg"), r.status === 200 ? "Released " + r.body.allowed + " network(s)." :
            "Not released: " + r.body.error, r.status !== 200);
        loadOps();
      });
    });
    if (token) signIn(); else $("#token").focus();
  });
})();
