/*! docsdesk embed.js 1.1.1 | connects OpenAI's ChatKit widget to a docsdesk server
 *
 * Load it with a plain script tag (no build step, no dependencies), before the code that
 * creates the widget:
 *
 *   <script src="https://assistant.example.com/embed.js?v=1.1.1"></script>
 *
 * and pass `docsdesk.createFetch({ url })` as ChatKit's `api.fetch`:
 *
 *   chatkit.setOptions({ api: { url, domainKey, fetch: docsdesk.createFetch({ url }) } });
 *
 * (`import "https://assistant.example.com/embed.js"` from an ES module works too: the script
 * defines the same `window.docsdesk` either way.)
 *
 * For every request the widget makes, the returned function:
 * - authenticates it: in anonymous mode with a session from `POST /session`, taken once per
 *   browser (one request at a time, across tabs too), kept in localStorage, renewed before it
 *   expires and once when the server answers 401; with `getToken` (JWT mode), with your token;
 * - adds the page the reader is on to the JSON body's top-level `metadata.page` (url, title,
 *   path, headings, description, language), read from the document when the request is sent;
 * - keeps the caller's headers (object, array or Headers), sends Accept-Language, and leaves
 *   bodies that are not JSON (file uploads) untouched.
 *
 * Options:
 *   url         the docsdesk /chatkit endpoint (required); the session endpoint is its sibling
 *               `session` (https://host/chatkit -> https://host/session)
 *   assistant   the name of one of the server's assistants (docsdesk.toml): requests to `url`
 *               go to its endpoint, https://host/a/NAME/chatkit (default: the main assistant)
 *   sessionUrl  another session endpoint, if yours is elsewhere
 *   page        () => object | null: the page context to send instead of the one read from the
 *               document (null: send none)
 *   getToken    ({ refresh }) => string | Promise<string>: your own bearer token (JWT mode);
 *               no /session call is made. `refresh` is true after the server refused a token.
 *   storageKey  the localStorage key of the anonymous session (default: derived from the
 *               session URL, so two docsdesk servers on one site do not collide)
 *   fetch       the fetch to send with (default: the browser's)
 *
 * `docsdesk.startScreen(name, { url })` resolves to ChatKit's `startScreen` option for that
 * assistant (its greeting and starter prompts, from the server), e.g.
 *   chatkit.setOptions({ ..., startScreen: await docsdesk.startScreen("api") });
 * `url` (a /chatkit URL of the server) defaults to the server this script was loaded from.
 *
 * Documentation: docs/embedding.md in the docsdesk repository, served at /about/embedding.
 * Bump VERSION whenever this file changes: `/embed.js?v=VERSION` is cached for a year.
 */
(function (global) {
  "use strict";

  var VERSION = "1.1.1";
  // Where this script was loaded from (a classic script tag): startScreen's default server.
  var SCRIPT_SRC = (global.document && global.document.currentScript && global.document.currentScript.src) || "";

  // What the server accepts in metadata.page (docsdesk/core/context.py), with room to spare.
  var LIMITS = {
    url: 2048, title: 300, path: 2048, heading: 200, headings: 40,
    description: 1000, language: 35, bytes: 6000,
  };
  var RENEW_AFTER = 0.5; // renew a session once half of its lifetime has passed
  var EXPIRY_MARGIN_MS = 60 * 1000; // a session this close to its expiry is renewed first
  var JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\b/i;
  var LANGUAGE_TAG = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;

  function clip(value, max) {
    if (value === null || value === undefined) return "";
    var text = String(value).replace(/\s+/g, " ").trim();
    var chars = Array.from(text); // by code point: never half of a surrogate pair
    return chars.length > max ? chars.slice(0, max).join("").trim() : text;
  }

  function byteLength(value) {
    return new TextEncoder().encode(JSON.stringify(value)).length;
  }

  /** The page the reader is on, read from the document now. */
  function readPage() {
    var doc = global.document;
    var loc = global.location;
    var root = doc.querySelector("main, [role=main], article") || doc.body || doc.documentElement;
    var headings = [];
    if (root) {
      var nodes = root.querySelectorAll("h1, h2, h3");
      for (var i = 0; i < nodes.length && headings.length < LIMITS.headings; i++) {
        var text = clip(nodes[i].textContent, LIMITS.heading);
        if (text) headings.push(text);
      }
    }
    var meta = doc.querySelector('meta[name="description"]');
    var nav = global.navigator || {};
    return {
      // No query string: it can carry tokens or personal data, and docs URLs rarely need it.
      url: loc.origin + loc.pathname + loc.hash,
      title: doc.title,
      path: loc.pathname,
      headings: headings,
      description: meta ? meta.getAttribute("content") : "",
      language: (doc.documentElement && doc.documentElement.lang) || nav.language || "",
    };
  }

  /** A page object clipped to what the server accepts; empty fields left out. */
  function fitPage(raw) {
    if (!raw || typeof raw !== "object") return null;
    var page = {};
    ["url", "title", "path", "description", "language"].forEach(function (key) {
      var value = clip(raw[key], LIMITS[key]);
      if (value) page[key] = value;
    });
    var headings = Array.isArray(raw.headings) ? raw.headings : [];
    page.headings = headings
      .map(function (h) { return clip(h, LIMITS.heading); })
      .filter(Boolean)
      .slice(0, LIMITS.headings);
    while (byteLength(page) > LIMITS.bytes && page.headings.length) page.headings.pop();
    if (byteLength(page) > LIMITS.bytes) delete page.description;
    if (!page.headings.length) delete page.headings;
    return Object.keys(page).length ? page : null;
  }

  function acceptLanguage() {
    var nav = global.navigator || {};
    var tags = (nav.languages && nav.languages.length ? nav.languages : [nav.language])
      .filter(function (tag) { return typeof tag === "string" && LANGUAGE_TAG.test(tag); })
      .slice(0, 10);
    return tags
      .map(function (tag, i) { return i === 0 ? tag : tag + ";q=" + Math.max(0.1, 1 - i / 10).toFixed(1); })
      .join(",");
  }

  function resolve(url) {
    return new URL(String(url), global.location.href).href;
  }

  function createFetch(options) {
    options = options || {};
    if (!options.url) {
      throw new TypeError("docsdesk.createFetch: options.url (the docsdesk /chatkit endpoint) is required");
    }
    var chatkitUrl = resolve(options.url);
    var assistantUrl = options.assistant ? endpointOf(chatkitUrl, options.assistant, "chatkit") : null;
    var sessionUrl = options.sessionUrl
      ? resolve(options.sessionUrl)
      : new URL("session", chatkitUrl.replace(/[?#].*$/, "").replace(/\/+$/, "")).href;
    var storageKey = options.storageKey || "docsdesk.session:" + sessionUrl;
    var getToken = typeof options.getToken === "function" ? options.getToken : null;
    var pageOption = options.page;
    var baseFetch = options.fetch || function (input, init) { return global.fetch(input, init); };
    var memory = null; // the session when localStorage is unavailable (private modes, blocked)
    var inflight = null; // the one session request of this page (single-flight)

    // --- the anonymous session -------------------------------------------------------------

    function load() {
      try {
        var stored = JSON.parse(global.localStorage.getItem(storageKey));
        if (stored && typeof stored.token === "string" && typeof stored.expiresAt === "number") {
          return stored;
        }
        return stored === null ? memory : null;
      } catch (e) {
        return memory;
      }
    }

    function save(session) {
      memory = session;
      try {
        if (session) global.localStorage.setItem(storageKey, JSON.stringify(session));
        else global.localStorage.removeItem(storageKey);
      } catch (e) { /* storage unavailable: this page keeps it in memory */ }
    }

    function fresh(session, rejected) {
      var now = Date.now();
      return !!session && session.token !== rejected &&
        now < session.renewAt && now < session.expiresAt - EXPIRY_MARGIN_MS;
    }

    function usable(session, rejected) {
      return !!session && session.token !== rejected && Date.now() < session.expiresAt - EXPIRY_MARGIN_MS;
    }

    function accept(data) {
      // Lifetimes are measured on this clock: the browser's clock may differ from the server's.
      var now = Date.now();
      var seconds = typeof data.expires_in === "number"
        ? data.expires_in
        : (Date.parse(data.expires_at) - now) / 1000;
      var lifetime = Math.max(0, seconds * 1000);
      var session = {
        token: data.token,
        userId: data.user_id,
        expiresAt: now + lifetime,
        renewAt: now + lifetime * RENEW_AFTER,
      };
      save(session);
      return { token: session.token };
    }

    function requestSession(token) {
      var headers = { Accept: "application/json" };
      if (token) headers.Authorization = "Bearer " + token;
      return baseFetch(sessionUrl, { method: "POST", headers: headers, cache: "no-store" })
        .then(function (response) {
          if (!response.ok) return { response: response };
          return response.clone().json().then(
            function (data) {
              return data && typeof data.token === "string" ? { data: data } : { response: response };
            },
            function () { return { response: response }; }
          );
        }, function (error) {
          return { error: error }; // network failure: the caller decides
        });
    }

    // Runs alone across this browser's tabs when the Web Locks API is there (secure pages):
    // re-reading the storage first means a session another tab just took is used, not replaced.
    function refresh(rejected) {
      var current = load();
      if (fresh(current, rejected)) return Promise.resolve({ token: current.token });
      var renewal = current
        ? requestSession(current.token)
        : Promise.resolve({ response: null });
      return renewal.then(function (renewed) {
        if (renewed.data) return accept(renewed.data);
        var refused = renewed.response && renewed.response.status === 401;
        if (current && !refused) {
          // The server could not renew now (rate limit, outage): keep a token that still works.
          if (usable(current, rejected)) return { token: current.token };
          if (renewed.error) throw renewed.error;
          return { response: renewed.response };
        }
        // No session yet, or the server refused the old one: a new anonymous reader.
        if (current) save(null);
        return requestSession(null).then(function (created) {
          if (created.error) throw created.error;
          return created.data ? accept(created.data) : { response: created.response };
        });
      });
    }

    function withLock(task) {
      var locks = global.navigator && global.navigator.locks;
      if (locks && typeof locks.request === "function") {
        return locks.request(storageKey, task);
      }
      return task();
    }

    function sessionToken(rejected) {
      var current = load();
      if (fresh(current, rejected)) return Promise.resolve({ token: current.token });
      if (!inflight) {
        inflight = withLock(function () { return refresh(rejected); });
        inflight.then(clear, clear);
      }
      return inflight;
    }

    function clear() { inflight = null; }

    function credentials(rejected) {
      if (getToken) {
        return Promise.resolve(getToken({ refresh: rejected !== undefined })).then(function (token) {
          return { token: token ? String(token) : "" };
        });
      }
      return sessionToken(rejected);
    }

    // --- the request -------------------------------------------------------------------------

    function currentPage() {
      if (pageOption === undefined) return fitPage(readPage());
      var value = typeof pageOption === "function" ? pageOption() : pageOption;
      return fitPage(value);
    }

    function withPage(body, headers) {
      var type = headers.get("content-type");
      if (type && !JSON_TYPE.test(type)) return body;
      var payload;
      try {
        payload = JSON.parse(body);
      } catch (e) {
        return body;
      }
      if (!payload || typeof payload !== "object" || Array.isArray(payload) || typeof payload.type !== "string") {
        return body; // not a ChatKit request
      }
      var page = currentPage();
      if (!page) return body;
      var metadata = payload.metadata;
      metadata = metadata && typeof metadata === "object" && !Array.isArray(metadata)
        ? Object.assign({}, metadata)
        : {};
      if (metadata.page === undefined) metadata.page = page; // the caller's own page wins
      payload.metadata = metadata;
      return JSON.stringify(payload);
    }

    function prepare(input, init) {
      var request = { url: input, init: Object.assign({}, init || {}) };
      var wait = Promise.resolve();
      if (typeof Request !== "undefined" && input instanceof Request) {
        // As fetch(request, init) does: the request's settings, overridden by init's.
        request.url = input.url;
        var merged = new Headers(input.headers);
        if (init && init.headers) {
          new Headers(init.headers).forEach(function (value, name) { merged.set(name, value); });
        }
        request.init.headers = merged;
        ["method", "credentials", "mode", "cache", "redirect", "referrer", "integrity", "keepalive", "signal"]
          .forEach(function (key) {
            if (request.init[key] === undefined) request.init[key] = input[key];
          });
        if (request.init.body === undefined && input.method !== "GET" && input.method !== "HEAD") {
          var copy = input.clone();
          var json = JSON_TYPE.test(merged.get("content-type") || "");
          wait = (json ? copy.text() : copy.blob()).then(function (body) { request.init.body = body; });
        }
      } else {
        request.init.headers = new Headers(request.init.headers || undefined);
      }
      if (assistantUrl && resolve(request.url) === chatkitUrl) request.url = assistantUrl;
      return wait.then(function () {
        var headers = request.init.headers;
        if (!headers.has("accept-language")) {
          var languages = acceptLanguage();
          if (languages) headers.set("Accept-Language", languages);
        }
        if (typeof request.init.body === "string") {
          request.init.body = withPage(request.init.body, headers);
        }
        return request;
      });
    }

    function send(request, token) {
      var headers = new Headers(request.init.headers);
      if (token) headers.set("Authorization", "Bearer " + token);
      return baseFetch(request.url, Object.assign({}, request.init, { headers: headers }));
    }

    function replayable(body) {
      return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
    }

    return function docsdeskFetch(input, init) {
      return prepare(input, init).then(function (request) {
        return credentials(undefined).then(function (auth) {
          if (auth.response) return auth.response; // no session to be had: the server's answer
          return send(request, auth.token).then(function (response) {
            if (response.status !== 401 || !replayable(request.init.body)) return response;
            // Refused: renew (or ask getToken for a new token) once, then try once more.
            return credentials(auth.token).then(function (again) {
              if (again.response) return again.response;
              if (!again.token || again.token === auth.token) return response;
              return send(request, again.token);
            });
          });
        });
      });
    };
  }

  /** https://host/a/NAME/<leaf> for the server of `chatkitUrl` (https://host/chatkit). */
  function endpointOf(chatkitUrl, name, leaf) {
    var base = new URL(".", chatkitUrl.replace(/[?#].*$/, "").replace(/\/+$/, "")).href;
    return new URL("a/" + encodeURIComponent(String(name)) + "/" + leaf, base).href;
  }

  /** ChatKit's startScreen option for assistant `name` (default: the main one), from the server. */
  function startScreen(name, options) {
    options = options || {};
    var server = options.url ? resolve(options.url) : SCRIPT_SRC ? new URL("chatkit", SCRIPT_SRC).href : "";
    if (!server) {
      return Promise.reject(new TypeError("docsdesk.startScreen: options.url (the docsdesk /chatkit endpoint) is required"));
    }
    var url = name ? endpointOf(server, name, "start-screen") : new URL("start-screen", server).href;
    var baseFetch = options.fetch || function (input, init) { return global.fetch(input, init); };
    return baseFetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("docsdesk.startScreen: " + url + " answered " + response.status);
      return response.json();
    }).then(function (data) {
      var option = { prompts: (data.prompts || []).map(function (p) { return { label: p.label, prompt: p.prompt }; }) };
      if (data.greeting) option.greeting = data.greeting;
      return option;
    });
  }

  var api = global.docsdesk || {};
  api.version = VERSION;
  api.createFetch = createFetch;
  api.startScreen = startScreen;
  api.readPage = readPage;
  global.docsdesk = api;
})(typeof globalThis !== "undefined" ? globalThis : window);
