/* Phản ánh playground: a messenger-like page over the project's Bot API emulator.
 *
 * Everything the visitor does goes to the emulator as a Telegram client would (send a text, a
 * photo or a location, press an inline button, tap a reply-keyboard button); the real bot answers
 * through its real handlers, and what it sends arrives here as server-sent events. The page adds
 * no product logic. Text is rendered from Telegram's entities with DOM nodes only: no HTML string
 * from the bot or from a user is ever parsed, so nobody's text can inject markup.
 */
"use strict";

(() => {
  // ---------------------------------------------------------------------------------------------
  // The page's own labels, in both languages. The bot's texts come from the bot (locales/).
  const I18N = {
    vi: {
      playground: "Sân thử",
      subtitle: "Bot thật trên Telegram giả lập — không cần tài khoản, không cần Internet",
      connecting: "Đang kết nối…",
      live: "Trực tiếp",
      offline: "Mất kết nối, đang thử lại…",
      footnote:
        "Mọi thao tác ở đây đi qua trình giả lập Bot API của dự án; bot thật trả lời bằng chính các xử lý của nó.",
      emulatorApi: "API điều khiển trình giả lập",
      roleResident: "Người dân",
      roleUnit: "Nhóm của đơn vị",
      roleSupervisor: "Văn phòng giám sát",
      switchResident: "Chọn người dân",
      switchGroup: "Chọn nhóm",
      addResident: "＋ Thêm người dân…",
      youAre: "Bạn là",
      botSub: "bot · trò chuyện riêng",
      unitSub: "nhóm · đơn vị {code} · {n} thành viên",
      supervisorSub: "nhóm giám sát · {n} thành viên",
      typing: "đang nhập…",
      message: "Nhắn tin…",
      replyTo: "Trả lời {name}",
      reply: "Trả lời",
      attach: "Gửi ảnh",
      location: "Gửi vị trí",
      send: "Gửi",
      menu: "Menu",
      start: "BẮT ĐẦU",
      emptyPrivate:
        "Đây là cuộc trò chuyện riêng của {name} với bot {bot}. Bấm Bắt đầu, hoặc gõ /report để gửi phản ánh.",
      emptyGroup:
        "Chưa có tin nhắn. Phản ánh gửi về đơn vị hiện ở đây thành thẻ; trả lời thẻ (nút ↩) để trả lời người dân, bấm nút trên thẻ để đổi trạng thái.",
      emptySupervisor:
        "Chưa có tin nhắn. Phản ánh của đơn vị chưa có nhóm, cảnh báo và tổng hợp sẽ hiện ở đây.",
      edited: "đã sửa",
      photo: "Ảnh",
      pin: "Vị trí",
      you: "Bạn",
      joined: "{name} đã tham gia nhóm",
      photoTitle: "Gửi ảnh",
      samplesNote: "Ảnh mẫu, được vẽ khi sân thử khởi động:",
      upload: "Hoặc chọn ảnh từ máy tính…",
      caption: "Chú thích (không bắt buộc)",
      cancel: "Hủy",
      locationTitle: "Chia sẻ vị trí",
      landmarks: "Địa điểm mẫu",
      latitude: "Vĩ độ",
      longitude: "Kinh độ",
      wholeCity: "Toàn thành phố",
      mapHint: "Bấm vào bản đồ để chọn điểm. Ranh giới phường, xã là ước tính.",
      sendLocation: "Gửi vị trí này",
      newResident: "Thêm người dân",
      name: "Tên",
      appLanguage: "Ngôn ngữ của ứng dụng Telegram",
      add: "Thêm",
      failed: "Không gửi được: {error}",
      copied: "Đã chép {text}",
      ok: "OK",
      notSupported: "Sân thử chưa hỗ trợ nút này",
      latest: "Tin mới nhất",
      cancelReply: "Bỏ trả lời",
    },
    en: {
      playground: "Playground",
      subtitle: "The real bot on an emulated Telegram — no account, no internet needed",
      connecting: "Connecting…",
      live: "Live",
      offline: "Disconnected, retrying…",
      footnote:
        "Everything you do here goes to the project's Bot API emulator, and the real bot answers through its real handlers.",
      emulatorApi: "Emulator control API",
      roleResident: "Resident",
      roleUnit: "Unit's group chat",
      roleSupervisor: "Supervisor office",
      switchResident: "Choose a resident",
      switchGroup: "Choose a group",
      addResident: "＋ Add a resident…",
      youAre: "You are",
      botSub: "bot · private chat",
      unitSub: "group · unit {code} · {n} members",
      supervisorSub: "supervisors' group · {n} members",
      typing: "typing…",
      message: "Message…",
      replyTo: "Reply to {name}",
      reply: "Reply",
      attach: "Send a photo",
      location: "Share a location",
      send: "Send",
      menu: "Menu",
      start: "START",
      emptyPrivate:
        "This is {name}'s private chat with the bot {bot}. Press Start, or type /report to report a problem.",
      emptyGroup:
        "No messages yet. Reports for this unit arrive here as cards: reply to a card (the ↩ button) to answer the resident, press its buttons to change its status.",
      emptySupervisor:
        "No messages yet. Reports for units without a group, warnings and digests arrive here.",
      edited: "edited",
      photo: "Photo",
      pin: "Location",
      you: "You",
      joined: "{name} joined the group",
      photoTitle: "Send a photo",
      samplesNote: "Sample photos, drawn when the playground started:",
      upload: "Or choose a photo from this computer…",
      caption: "Caption (optional)",
      cancel: "Cancel",
      locationTitle: "Share a location",
      landmarks: "Landmarks",
      latitude: "Latitude",
      longitude: "Longitude",
      wholeCity: "Whole city",
      mapHint: "Click the map to pick a point. Ward and commune boundaries are approximate.",
      sendLocation: "Send this location",
      newResident: "Add a resident",
      name: "Name",
      appLanguage: "Language of their Telegram app",
      add: "Add",
      failed: "Could not send: {error}",
      copied: "Copied {text}",
      ok: "OK",
      notSupported: "The playground does not support this button yet",
      latest: "Latest message",
      cancelReply: "Cancel reply",
    },
  };

  const stored = window.localStorage.getItem("phananh-playground-lang");
  let lang =
    stored === "vi" || stored === "en"
      ? stored
      : (navigator.language || "vi").toLowerCase().startsWith("vi")
        ? "vi"
        : "en";

  function t(key, vars) {
    let text = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.split(`{${name}}`).join(String(value));
    }
    return text;
  }

  // ---------------------------------------------------------------------------------------------
  // Small helpers.

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    return node;
  }

  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || `${response.status} ${response.statusText}`;
      throw new Error(error);
    }
    return data;
  }

  const AVATAR_COLOURS = ["#e17076", "#7bc862", "#e5a64e", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb"];
  function avatarColour(id) {
    return AVATAR_COLOURS[Math.abs(Number(id) || 0) % AVATAR_COLOURS.length];
  }
  function initials(name) {
    // "UBND phường Hoàn Kiếm" -> "HK": the unit's own name, not its kind.
    const plain = String(name || "?").trim().replace(/^(UBND\s+)?(phường|xã|thị trấn)\s+/i, "");
    const words = (plain || "?").split(/\s+/);
    const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : words[0].slice(0, 2);
    return letters.toUpperCase();
  }
  function setAvatar(node, id, name) {
    node.textContent = initials(name);
    node.style.backgroundColor = avatarColour(id);
  }
  function clock(unix) {
    const date = new Date(unix * 1000);
    return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
  }
  function safeUrl(url) {
    const value = String(url || "").trim();
    if (/^https?:\/\//i.test(value)) return value;
    if (/^[\w.-]+\.[a-z]{2,}(\/|$)/i.test(value)) return `http://${value}`;
    return null;
  }
  function displayName(user) {
    if (!user) return "";
    return [user.first_name, user.last_name].filter(Boolean).join(" ");
  }

  // ---------------------------------------------------------------------------------------------
  // Text with Telegram entities -> DOM. Offsets are UTF-16 code units, as JavaScript strings are.

  function renderText(text, entities, ctx) {
    const fragment = document.createDocumentFragment();
    const sorted = (entities || [])
      .filter((e) => e && e.length > 0)
      .slice()
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    build(text, sorted, 0, text.length, fragment, ctx);
    return fragment;
  }

  function build(text, entities, start, end, parent, ctx) {
    let pos = start;
    let i = 0;
    while (i < entities.length) {
      const entity = entities[i];
      const from = Math.max(entity.offset, start);
      const to = Math.min(entity.offset + entity.length, end);
      if (from < pos || to <= from) {
        i += 1; // overlapping an earlier entity (not nested): its text is already there
        continue;
      }
      if (from > pos) parent.append(document.createTextNode(text.slice(pos, from)));
      const inner = [];
      let j = i + 1;
      while (j < entities.length && entities[j].offset < to) {
        inner.push(entities[j]);
        j += 1;
      }
      const node = entityNode(entity, text.slice(from, to), ctx);
      build(text, inner, from, to, node, ctx);
      parent.append(node);
      pos = to;
      i = j;
    }
    if (pos < end) parent.append(document.createTextNode(text.slice(pos, end)));
  }

  function entityNode(entity, covered, ctx) {
    switch (entity.type) {
      case "bold":
        return el("strong");
      case "italic":
        return el("em");
      case "underline":
        return el("u");
      case "strikethrough":
        return el("s");
      case "code": {
        const node = el("code", "copyable");
        node.title = "⧉";
        node.addEventListener("click", () => ctx.copy(covered));
        return node;
      }
      case "pre":
        return el("pre");
      case "blockquote":
      case "expandable_blockquote":
        return el("blockquote");
      case "spoiler": {
        const node = el("span", "spoiler");
        node.addEventListener("click", () => node.classList.add("revealed"));
        return node;
      }
      case "text_link":
      case "url": {
        const href = safeUrl(entity.type === "url" ? covered : entity.url);
        if (!href) return el("span", "link");
        const node = el("a", "link");
        node.href = href;
        node.target = "_blank";
        node.rel = "noopener noreferrer nofollow";
        return node;
      }
      case "bot_command": {
        const node = el("a", "command");
        node.href = "#";
        node.addEventListener("click", (event) => {
          event.preventDefault();
          ctx.command(covered);
        });
        return node;
      }
      case "mention":
      case "text_mention":
      case "hashtag":
      case "cashtag":
      case "email":
      case "phone_number":
        return el("span", "link");
      default:
        return el("span");
    }
  }

  function snippet(message) {
    if (!message) return "";
    const text = message.text || message.caption || "";
    if (message.photo) return `📷 ${text || t("photo")}`;
    if (message.venue) return `📍 ${message.venue.title || t("pin")}`;
    if (message.location) return `📍 ${t("pin")}`;
    return text.replace(/\s+/g, " ").slice(0, 90);
  }

  // ---------------------------------------------------------------------------------------------
  // The map: the shipped approximate unit outlines, drawn as SVG (no tiles, no network).

  const MAP = { units: null, loading: null };
  const LAT0 = 21.5;
  const LON0 = 105.0;
  const KX = 1000 * Math.cos((21.0 * Math.PI) / 180);
  const KY = 1000;
  const project = (lat, lon) => [(lon - LON0) * KX, (LAT0 - lat) * KY];
  const unproject = (x, y) => [LAT0 - y / KY, LON0 + x / KX];

  function loadMap() {
    if (!MAP.loading) {
      MAP.loading = api("GET", "/api/map")
        .then((data) => {
          MAP.units = data.units.map((unit) => {
            let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
            const d = unit.rings
              .map((ring) =>
                ring
                  .map(([lon, lat], index) => {
                    const [x, y] = project(lat, lon);
                    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
                    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
                    return `${index ? "L" : "M"}${x.toFixed(2)} ${y.toFixed(2)}`;
                  })
                  .join("") + "Z",
              )
              .join("");
            return { code: unit.code, name: unit.name, d, box: [minX, minY, maxX, maxY] };
          });
          return MAP.units;
        })
        .catch(() => {
          MAP.units = [];
          return MAP.units;
        });
    }
    return MAP.loading;
  }

  function drawUnits(group, view) {
    for (const unit of MAP.units || []) {
      const [x0, y0, x1, y1] = unit.box;
      if (view && (x1 < view.x || x0 > view.x + view.w || y1 < view.y || y0 > view.y + view.h)) continue;
      const path = svg("path", { d: unit.d, class: "unit" });
      const title = svg("title");
      title.textContent = unit.name;
      path.append(title);
      group.append(path);
    }
  }

  function pinShape(x, y, size) {
    const g = svg("g", { class: "pin", transform: `translate(${x} ${y}) scale(${size / 24})` });
    g.append(svg("path", { d: "M0 0C-1 -4 -7 -9 -7 -14a7 7 0 0 1 14 0c0 5 -6 10 -7 14z", class: "pin-body" }));
    g.append(svg("circle", { cx: 0, cy: -14, r: 2.8, class: "pin-dot" }));
    return g;
  }

  function miniMap(lat, lon) {
    const [x, y] = project(lat, lon);
    const view = { x: x - 20, y: y - 9, w: 40, h: 18 };
    const root = svg("svg", {
      viewBox: `${view.x} ${view.y} ${view.w} ${view.h}`,
      class: "mini-map",
      preserveAspectRatio: "xMidYMid slice",
      "aria-hidden": "true",
    });
    root.append(svg("rect", { x: view.x, y: view.y, width: view.w, height: view.h, class: "sea" }));
    const units = svg("g");
    root.append(units);
    const draw = () => {
      drawUnits(units, view);
      root.append(pinShape(x, y, 7));
    };
    if (MAP.units) draw();
    else loadMap().then(draw);
    return root;
  }

  // ---------------------------------------------------------------------------------------------
  // A chat pane: one chat, the person the visitor acts as in it, its composer and keyboards.

  const state = {
    world: null,
    panes: [],
    unread: new Map(),
    answered: new Map(),
    members: new Map(),
  };

  class Pane {
    constructor(role) {
      this.role = role; // "resident" | "unit" | "supervisor"
      this.root = document.getElementById("pane-template").content.firstElementChild.cloneNode(true);
      this.root.dataset.role = role;
      this.root.dataset.testid = `pane-${role}`;
      this.q = (selector) => this.root.querySelector(selector);
      this.list = this.q(".messages");
      this.input = this.q(".input");
      this.select = this.q(".chat-select");
      this.chatId = null;
      this.userId = null;
      this.messages = new Map();
      this.replyTo = null;
      this.replyForced = false;
      this.keyboardSeq = 0;
      this.loading = false;
      this.buffer = [];
      this.pending = new Set();
      this.typingTimer = null;
      this.followUntil = 0;
      this.wire();
    }

    wire() {
      this.select.addEventListener("change", () => {
        const value = this.select.value;
        if (value === "__new") {
          this.select.value = String(this.chatId);
          openResidentDialog(this);
          return;
        }
        this.choose(Number(value));
      });
      this.q(".composer").addEventListener("submit", (event) => {
        event.preventDefault();
        this.sendText();
      });
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.sendText();
        } else if (event.key === "Escape" && this.replyTo !== null) {
          this.setReply(null);
        }
      });
      this.input.addEventListener("input", () => this.autosize());
      this.q(".reply-cancel").addEventListener("click", () => this.setReply(null));
      this.q(".attach-btn").addEventListener("click", () => openPhotoDialog(this));
      this.q(".location-btn").addEventListener("click", () => openLocationDialog(this, true));
      this.q(".start-btn").addEventListener("click", () => this.post("/_emulator/send_text", { text: "/start" }));
      this.q(".menu-btn").addEventListener("click", () => {
        const box = this.q(".commands");
        box.hidden = !box.hidden;
      });
      const toBottom = this.q(".to-bottom");
      toBottom.addEventListener("click", () => this.scrollToBottom(true));
      this.list.addEventListener("scroll", () => {
        toBottom.hidden = this.nearBottom();
      });
      this.q(".reply-bar-text").addEventListener("click", () => {
        if (this.replyTo !== null) this.flash(this.replyTo);
      });
    }

    get seat() {
      return (state.world.groups || []).find((g) => g.chat_id === this.chatId) || null;
    }

    options() {
      const world = state.world;
      if (this.role === "resident") {
        return world.residents.map((user) => ({
          value: user.id,
          label: `${displayName(user)}${user.language_code ? ` (${user.language_code})` : ""}`,
        }));
      }
      return world.groups
        .filter((group) => group.role === this.role)
        .map((group) => ({ value: group.chat_id, label: group.title }));
    }

    fillSelect() {
      const current = this.chatId;
      this.select.replaceChildren();
      for (const option of this.options()) {
        const node = el("option", null, option.label);
        node.value = String(option.value);
        const unread = state.unread.get(option.value) || 0;
        if (unread && option.value !== current) node.textContent += `  ● ${unread}`;
        this.select.append(node);
      }
      if (this.role === "resident") {
        const add = el("option", null, t("addResident"));
        add.value = "__new";
        this.select.append(add);
      }
      if (current !== null) this.select.value = String(current);
      this.select.disabled = this.select.options.length < 2;
    }

    labels() {
      this.q(".role-label").textContent = t(
        { resident: "roleResident", unit: "roleUnit", supervisor: "roleSupervisor" }[this.role],
      );
      this.q(".switcher-label").textContent = t(this.role === "resident" ? "switchResident" : "switchGroup");
      this.select.setAttribute("aria-label", t(this.role === "resident" ? "switchResident" : "switchGroup"));
      this.input.placeholder = this.placeholder || t("message");
      this.q(".attach-btn").title = t("attach");
      this.q(".attach-btn").setAttribute("aria-label", t("attach"));
      this.q(".location-btn").title = t("location");
      this.q(".location-btn").setAttribute("aria-label", t("location"));
      this.q(".send-btn").title = t("send");
      this.q(".send-btn").setAttribute("aria-label", t("send"));
      this.q(".menu-btn").textContent = `☰ ${t("menu")}`;
      this.q(".start-btn").textContent = t("start");
      this.q(".acting-label").textContent = t("youAre");
      this.q(".reply-cancel").setAttribute("aria-label", t("cancelReply"));
      this.q(".to-bottom").setAttribute("aria-label", t("latest"));
      this.fillSelect();
      this.header();
      this.commands();
      this.updateEmpty();
      if (this.replyTo !== null) this.setReply(this.replyTo, this.replyForced);
    }

    header() {
      const world = state.world;
      const title = this.q(".chat-title");
      const sub = this.q(".chat-sub");
      const avatar = this.q(".avatar");
      if (this.role === "resident") {
        const logo = el("img");
        logo.src = "/static/icon.svg";
        logo.alt = "";
        avatar.replaceChildren(logo);
        avatar.classList.add("bot-avatar");
        title.textContent = world.bot.first_name;
        sub.textContent = this.typing ? t("typing") : t("botSub");
        const me = world.residents.find((u) => u.id === this.userId);
        this.q(".acting-name").textContent = me ? displayName(me) : "";
      } else {
        const seat = this.seat;
        if (!seat) return;
        setAvatar(avatar, seat.chat_id, seat.title);
        title.textContent = seat.title;
        const n = state.members.get(seat.chat_id) || 2;
        sub.textContent = this.typing
          ? `${world.bot.first_name} ${t("typing")}`
          : seat.role === "unit"
            ? t("unitSub", { code: seat.unit_code, n })
            : t("supervisorSub", { n });
        this.q(".acting-name").textContent = displayName(seat.official);
      }
      sub.classList.toggle("typing", Boolean(this.typing));
    }

    commands() {
      const menu = this.q(".menu-btn");
      const box = this.q(".commands");
      if (this.role !== "resident") {
        menu.hidden = true;
        box.hidden = true;
        return;
      }
      const me = state.world.residents.find((u) => u.id === this.userId);
      const all = state.world.commands || {};
      const list = (me && all[me.language_code]) || all[""] || [];
      menu.hidden = list.length === 0;
      box.replaceChildren();
      for (const command of list) {
        const item = el("button", "command-item");
        item.type = "button";
        item.append(el("span", "command-name", `/${command.command}`), el("span", "command-desc", command.description));
        item.addEventListener("click", () => {
          box.hidden = true;
          this.post("/_emulator/send_text", { text: `/${command.command}` });
        });
        box.append(item);
      }
    }

    choose(chatId) {
      if (this.role === "resident") {
        this.userId = chatId;
        this.chatId = chatId;
      } else {
        const seat = state.world.groups.find((g) => g.chat_id === chatId);
        this.chatId = chatId;
        this.userId = seat ? seat.official.id : null;
      }
      this.root.dataset.chatId = String(this.chatId);
      state.unread.delete(this.chatId);
      this.placeholder = null;
      this.typing = false;
      this.replyTo = null;
      this.replyForced = false;
      this.labels();
      for (const pane of state.panes) pane.fillSelect();
      this.load();
    }

    async load() {
      const chatId = this.chatId;
      this.loading = true;
      this.buffer = [];
      try {
        const records = await api("GET", `/_emulator/chats/${chatId}/messages`);
        if (chatId !== this.chatId) return;
        this.messages.clear();
        this.list.replaceChildren();
        for (const record of records) this.upsert(record.message, false);
      } catch (error) {
        this.toast(t("failed", { error: error.message }));
      } finally {
        if (chatId === this.chatId) {
          this.loading = false;
          const buffered = this.buffer;
          this.buffer = [];
          for (const event of buffered) this.apply(event);
          this.updateEmpty();
          this.setReply(null);
          this.refreshKeyboard();
          this.scrollToBottom(true);
        }
      }
    }

    // --- events ------------------------------------------------------------------------------

    handle(event) {
      if (this.loading) this.buffer.push(event);
      else this.apply(event);
    }

    apply(event) {
      if (event.type === "message" || event.type === "edited_message") {
        const mine = event.message.from && event.message.from.id === this.userId;
        // After the visitor acts here, the bot's answers scroll into view, as in a messenger.
        const stick = mine || this.nearBottom() || Date.now() < this.followUntil;
        this.upsert(event.message, event.type === "edited_message");
        if (event.type === "message") {
          if (event.message.from && event.message.from.id === state.world.bot.id) this.setTyping(false);
          this.refreshKeyboard();
          if (stick) this.scrollToBottom(true);
          else this.q(".to-bottom").hidden = false;
        }
        this.updateEmpty();
      } else if (event.type === "deleted_message") {
        this.messages.delete(event.message_id);
        const node = this.node(event.message_id);
        if (node) node.remove();
        this.updateEmpty();
      } else if (event.type === "chat_action") {
        this.setTyping(event.action === "typing" || event.action === "upload_photo");
      }
    }

    setTyping(on) {
      clearTimeout(this.typingTimer);
      this.typing = on;
      this.header();
      if (on) this.typingTimer = setTimeout(() => this.setTyping(false), 5000);
    }

    node(messageId) {
      return this.list.querySelector(`[data-mid="${Number(messageId)}"]`);
    }

    upsert(message, edited) {
      this.messages.set(message.message_id, message);
      const node = this.renderMessage(message);
      const old = this.node(message.message_id);
      if (old) {
        old.replaceWith(node);
        if (edited) {
          node.classList.add("just-edited");
          setTimeout(() => node.classList.remove("just-edited"), 1200);
        }
        return;
      }
      let next = null;
      for (const child of this.list.children) {
        if (Number(child.dataset.mid) > message.message_id) {
          next = child;
          break;
        }
      }
      this.list.insertBefore(node, next);
    }

    renderAll() {
      for (const message of this.messages.values()) this.upsert(message, false);
    }

    updateEmpty() {
      const empty = this.q(".empty");
      const none = this.messages.size === 0;
      empty.hidden = !none;
      const start = this.q(".start-btn");
      start.hidden = this.role !== "resident";
      const text = this.q(".empty-text");
      if (this.role === "resident") {
        const me = state.world.residents.find((u) => u.id === this.userId);
        text.textContent = t("emptyPrivate", { name: me ? displayName(me) : "", bot: `@${state.world.bot.username}` });
      } else {
        text.textContent = t(this.role === "unit" ? "emptyGroup" : "emptySupervisor");
      }
    }

    // --- rendering one message ---------------------------------------------------------------

    renderMessage(message) {
      const world = state.world;
      const from = message.from || {};
      const fromBot = from.id === world.bot.id;
      const mine = from.id === this.userId;
      const row = el("div", `msg ${mine ? "out" : "in"}${fromBot ? " from-bot" : ""}`);
      row.dataset.mid = String(message.message_id);
      row.dataset.testid = "message";

      if (message.new_chat_members || message.left_chat_member || message.migrate_from_chat_id) {
        row.className = "msg service";
        const names = (message.new_chat_members || []).map(displayName).join(", ");
        row.append(el("div", "service-text", names ? t("joined", { name: names }) : "·"));
        return row;
      }

      // line: [column: bubble over its inline keyboard] [reply button]; like Telegram, the
      // bubble is as wide as its keyboard.
      const line = el("div", "line");
      const column = el("div", "column");
      const bubble = el("div", "bubble");
      column.append(bubble);
      line.append(column);
      row.append(line);
      const group = this.role !== "resident";
      if (group && !mine) {
        const author = el("div", "author", fromBot ? world.bot.first_name : displayName(from));
        author.style.color = fromBot ? "" : avatarColour(from.id);
        bubble.append(author);
      }
      if (message.reply_to_message) {
        const quoted = message.reply_to_message;
        const quote = el("button", "quote");
        quote.type = "button";
        const qFrom = quoted.from || {};
        const qName = qFrom.id === this.userId ? t("you") : qFrom.id === world.bot.id ? world.bot.first_name : displayName(qFrom);
        quote.append(el("span", "quote-name", qName), el("span", "quote-text", snippet(quoted)));
        quote.addEventListener("click", () => this.flash(quoted.message_id));
        bubble.append(quote);
      }
      if (message.photo && message.photo.length) {
        const sizes = message.photo;
        const best = sizes.filter((s) => (s.width || 0) <= 800).pop() || sizes[sizes.length - 1];
        const full = sizes[sizes.length - 1];
        const img = el("img", "photo");
        img.alt = t("photo");
        img.src = `/_emulator/files/${encodeURIComponent(best.file_id)}`;
        if (best.width && best.height) {
          img.width = Math.min(best.width, 320);
          img.height = Math.round((img.width * best.height) / best.width);
        }
        img.addEventListener("load", () => {
          if (this.nearBottom(img.height + 120)) this.scrollToBottom(false);
        });
        img.addEventListener("click", () => openLightbox(`/_emulator/files/${encodeURIComponent(full.file_id)}`));
        bubble.append(img);
        bubble.classList.add("has-media");
      }
      const place = message.venue ? message.venue.location : message.location;
      if (place) {
        const card = el("div", "pin-card");
        card.dataset.testid = "pin";
        card.append(miniMap(place.latitude, place.longitude));
        const info = el("div", "pin-info");
        if (message.venue && message.venue.title) info.append(el("div", "pin-title", message.venue.title));
        if (message.venue && message.venue.address) info.append(el("div", "pin-address", message.venue.address));
        info.append(el("div", "pin-coords", `📍 ${place.latitude.toFixed(5)}, ${place.longitude.toFixed(5)}`));
        card.append(info);
        bubble.append(card);
        bubble.classList.add("has-media");
      }
      const text = message.text !== undefined ? message.text : message.caption;
      const entities = message.text !== undefined ? message.entities : message.caption_entities;
      if (text) {
        const body = el("div", "text");
        body.append(renderText(text, entities, this.textContext()));
        bubble.append(body);
      } else if (!message.photo && !place) {
        bubble.append(el("div", "text muted", "[…]"));
      }
      const meta = el("div", "meta");
      if (message.edit_date) meta.append(el("span", "edited", t("edited")));
      meta.append(el("time", null, clock(message.date)));
      if (mine) meta.append(el("span", "ticks", "✓✓"));
      bubble.append(meta);

      const reply = el("button", "reply-btn", "↩");
      reply.type = "button";
      reply.title = t("reply");
      reply.setAttribute("aria-label", t("reply"));
      reply.addEventListener("click", () => this.setReply(message.message_id));
      line.append(reply);
      bubble.addEventListener("dblclick", () => this.setReply(message.message_id));

      const markup = message.reply_markup || {};
      if (markup.inline_keyboard && markup.inline_keyboard.length) {
        const keyboard = el("div", "inline-kb");
        for (const buttons of markup.inline_keyboard) {
          const kbRow = el("div", "kb-row");
          for (const button of buttons) kbRow.append(this.inlineButton(message, button));
          keyboard.append(kbRow);
        }
        column.append(keyboard);
        line.classList.add("has-kb");
      }
      return row;
    }

    inlineButton(message, button) {
      if (button.url) {
        const href = safeUrl(button.url);
        const link = el("a", "kb-btn", `${button.text} ↗`);
        if (href) {
          link.href = href;
          link.target = "_blank";
          link.rel = "noopener noreferrer nofollow";
        }
        return link;
      }
      const node = el("button", "kb-btn", button.text);
      node.type = "button";
      if (button.callback_data === undefined) {
        node.disabled = true;
        node.title = t("notSupported");
        return node;
      }
      node.dataset.callback = button.callback_data;
      node.addEventListener("click", () => this.press(message, button.callback_data, node));
      return node;
    }

    textContext() {
      return {
        command: (command) => this.post("/_emulator/send_text", { text: command.split("@")[0] }),
        copy: (text) => {
          if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
          this.toast(t("copied", { text }));
        },
      };
    }

    flash(messageId) {
      const node = this.node(messageId);
      if (!node) return;
      node.scrollIntoView({ block: "center", behavior: "smooth" });
      node.classList.add("flash");
      setTimeout(() => node.classList.remove("flash"), 1400);
    }

    nearBottom(margin = 80) {
      const list = this.list;
      return list.scrollHeight - list.scrollTop - list.clientHeight < margin;
    }

    scrollToBottom(force) {
      if (force || this.nearBottom(400)) this.list.scrollTop = this.list.scrollHeight;
      this.q(".to-bottom").hidden = true;
    }

    autosize() {
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
    }

    // --- replying and keyboards --------------------------------------------------------------

    setReply(messageId, forced = false) {
      const bar = this.q(".reply-bar");
      const message = messageId === null ? null : this.messages.get(messageId);
      if (!message) {
        this.replyTo = null;
        this.replyForced = false;
        bar.hidden = true;
        this.root.classList.remove("replying");
        return;
      }
      const atBottom = this.nearBottom();
      this.replyTo = messageId;
      this.replyForced = forced;
      const from = message.from || {};
      const name = from.id === this.userId ? t("you") : from.id === state.world.bot.id ? state.world.bot.first_name : displayName(from);
      this.q(".reply-bar-title").textContent = t("replyTo", { name });
      this.q(".reply-bar-snippet").textContent = snippet(message);
      bar.hidden = false;
      this.root.classList.add("replying");
      if (atBottom) this.scrollToBottom(true);
      // A prompt the visitor did not just ask for must not steal the focus from another pane.
      if (!forced || Date.now() < this.followUntil) this.input.focus();
    }

    async refreshKeyboard() {
      const seq = ++this.keyboardSeq;
      const chatId = this.chatId;
      let shown = null;
      try {
        shown = await api("GET", `/api/chats/${chatId}/keyboard`);
      } catch (_) {
        return;
      }
      if (seq !== this.keyboardSeq || chatId !== this.chatId) return;
      this.showKeyboard(shown.keyboard, shown.prompt_message_id);
    }

    showKeyboard(keyboard, promptId) {
      const box = this.q(".reply-keyboard");
      box.replaceChildren();
      this.placeholder = null;
      if (keyboard && keyboard.force_reply) {
        // Telegram opens the reply box on the bot's prompt: the next message answers it.
        if (promptId !== null && promptId !== undefined && this.replyTo !== promptId) {
          this.setReply(promptId, true);
        }
        this.placeholder = keyboard.input_field_placeholder || null;
      } else if (this.replyForced) {
        this.setReply(null);
      }
      if (keyboard && keyboard.keyboard) {
        for (const buttons of keyboard.keyboard) {
          const line = el("div", "rk-row");
          for (const button of buttons) {
            const node = el("button", "rk-btn", button.text);
            node.type = "button";
            if (button.request_location) {
              node.classList.add("rk-location");
              node.dataset.requestLocation = "true";
              node.addEventListener("click", () => openLocationDialog(this, false));
            } else if (button.request_contact || button.request_poll || button.request_users || button.request_chat) {
              node.disabled = true;
              node.title = t("notSupported");
            } else {
              node.addEventListener("click", () => this.post("/_emulator/tap", { text: button.text }, false));
            }
            line.append(node);
          }
          box.append(line);
        }
        box.hidden = false;
        if (keyboard.input_field_placeholder) this.placeholder = keyboard.input_field_placeholder;
      } else {
        box.hidden = true;
      }
      this.input.placeholder = this.placeholder || t("message");
    }

    // --- acting ------------------------------------------------------------------------------

    async post(path, body, withReply = true) {
      this.followUntil = Date.now() + 5000;
      const payload = { user_id: this.userId, chat_id: this.chatId, ...body };
      if (withReply && this.replyTo !== null && !(body instanceof FormData)) payload.reply_to = this.replyTo;
      try {
        const result = await api("POST", path, payload);
        if (withReply) this.setReply(null);
        return result;
      } catch (error) {
        this.toast(t("failed", { error: error.message }), true);
        throw error;
      }
    }

    async sendText() {
      const text = this.input.value.trim();
      if (!text) return;
      const button = this.q(".send-btn");
      button.disabled = true;
      try {
        await this.post("/_emulator/send_text", { text });
        this.input.value = "";
        this.autosize();
        this.q(".commands").hidden = true;
      } catch (_) {
        /* shown as a toast */
      } finally {
        button.disabled = false;
        this.input.focus();
      }
    }

    async sendForm(path, form) {
      this.followUntil = Date.now() + 5000;
      form.append("user_id", String(this.userId));
      form.append("chat_id", String(this.chatId));
      if (this.replyTo !== null) form.append("reply_to", String(this.replyTo));
      try {
        const result = await api("POST", path, form);
        this.setReply(null);
        return result;
      } catch (error) {
        this.toast(t("failed", { error: error.message }), true);
        throw error;
      }
    }

    async press(message, data, node) {
      node.classList.add("pressing");
      try {
        const result = await this.post(
          "/_emulator/press",
          { message_id: message.message_id, data },
          false,
        );
        const id = result.callback_query_id;
        const early = state.answered.get(id);
        if (early) this.answered(early);
        else this.pending.add(id);
        setTimeout(() => node.classList.remove("pressing"), early ? 0 : 4000);
      } catch (_) {
        node.classList.remove("pressing");
      }
    }

    answered(answer) {
      this.pending.delete(answer.callback_query_id);
      for (const node of this.list.querySelectorAll(".kb-btn.pressing")) node.classList.remove("pressing");
      if (answer.text) {
        if (answer.show_alert) this.alert(answer.text);
        else this.toast(answer.text);
      }
    }

    toast(text, error = false) {
      const box = this.q(".toasts");
      const node = el("div", `toast${error ? " error" : ""}`, text);
      box.append(node);
      setTimeout(() => node.classList.add("fade"), 2600);
      setTimeout(() => node.remove(), 3200);
    }

    alert(text) {
      const box = this.q(".toasts");
      const node = el("div", "alert");
      node.append(el("div", "alert-text", text));
      const ok = el("button", "btn primary", t("ok"));
      ok.type = "button";
      ok.addEventListener("click", () => node.remove());
      node.append(ok);
      box.append(node);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Dialogs: photo, location, new resident, lightbox.

  const dialogs = { pane: null, sample: null, locationReply: true, view: null, point: null };

  function closeOn(dialog) {
    for (const button of dialog.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => dialog.close());
    }
  }

  function openLightbox(src) {
    const box = document.getElementById("lightbox");
    document.getElementById("lightbox-img").src = src;
    box.showModal();
  }

  function buildSamples() {
    const box = document.getElementById("samples");
    box.replaceChildren();
    for (const sample of state.world.samples) {
      const button = el("button", "sample");
      button.type = "button";
      button.dataset.sample = sample.name;
      button.setAttribute("aria-pressed", String(dialogs.sample === sample.name));
      const img = el("img");
      img.src = sample.url;
      img.alt = "";
      button.append(img, el("span", "sample-title", sample.title[lang] || sample.title.en));
      button.addEventListener("click", () => {
        dialogs.sample = sample.name;
        document.getElementById("photo-file").value = "";
        document.getElementById("upload-name").textContent = "";
        for (const other of box.children) other.setAttribute("aria-pressed", String(other === button));
        document.getElementById("photo-send").disabled = false;
      });
      box.append(button);
    }
  }

  function openPhotoDialog(pane) {
    dialogs.pane = pane;
    dialogs.sample = null;
    document.getElementById("photo-file").value = "";
    document.getElementById("upload-name").textContent = "";
    document.getElementById("photo-caption").value = "";
    document.getElementById("photo-send").disabled = true;
    buildSamples();
    document.getElementById("photo-dialog").showModal();
  }

  function wirePhotoDialog() {
    const dialog = document.getElementById("photo-dialog");
    closeOn(dialog);
    const file = document.getElementById("photo-file");
    file.addEventListener("change", () => {
      if (file.files && file.files.length) {
        dialogs.sample = null;
        for (const other of document.getElementById("samples").children) other.setAttribute("aria-pressed", "false");
        document.getElementById("upload-name").textContent = file.files[0].name;
        document.getElementById("photo-send").disabled = false;
      }
    });
    document.getElementById("photo-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const pane = dialogs.pane;
      const caption = document.getElementById("photo-caption").value.trim();
      const send = document.getElementById("photo-send");
      send.disabled = true;
      try {
        if (dialogs.sample) {
          await pane.post("/api/send_photo", { sample: dialogs.sample, caption });
        } else if (file.files && file.files.length) {
          const form = new FormData();
          form.append("photo", file.files[0], file.files[0].name);
          if (caption) form.append("caption", caption);
          await pane.sendForm("/api/send_photo", form);
        }
        dialog.close();
      } catch (_) {
        send.disabled = false;
      }
    });
  }

  // The location picker's map view, in projected units.
  const CITY_VIEW = { x: 270, y: 100, w: 720, h: 840 };
  const CENTRE = project(21.03, 105.845);

  function openLocationDialog(pane, asReply) {
    dialogs.pane = pane;
    dialogs.locationReply = asReply;
    const dialog = document.getElementById("location-dialog");
    buildLandmarks();
    dialog.showModal();
    loadMap().then(() => {
      drawMap();
      if (!dialogs.view) zoomTo(CENTRE[0], CENTRE[1], 60);
      else applyView();
    });
  }

  function buildLandmarks() {
    const box = document.getElementById("landmarks");
    box.replaceChildren();
    for (const landmark of state.world.landmarks) {
      const button = el("button", "landmark");
      button.type = "button";
      button.dataset.landmark = landmark.key;
      button.append(
        el("span", "landmark-name", landmark.name[lang] || landmark.name.en),
        el("span", "landmark-coords", `${landmark.latitude.toFixed(4)}, ${landmark.longitude.toFixed(4)}`),
      );
      button.addEventListener("click", () => {
        setPoint(landmark.latitude, landmark.longitude, true);
      });
      box.append(button);
    }
    markLandmark();
  }

  function markLandmark() {
    for (const button of document.querySelectorAll("#landmarks .landmark")) {
      const landmark = state.world.landmarks.find((l) => l.key === button.dataset.landmark);
      const on =
        dialogs.point &&
        Math.abs(landmark.latitude - dialogs.point[0]) < 1e-6 &&
        Math.abs(landmark.longitude - dialogs.point[1]) < 1e-6;
      button.setAttribute("aria-pressed", String(Boolean(on)));
    }
  }

  function setPoint(lat, lon, centre) {
    dialogs.point = [lat, lon];
    document.getElementById("lat").value = lat.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
    document.getElementById("lon").value = lon.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
    markLandmark();
    if (centre) {
      const [x, y] = project(lat, lon);
      zoomTo(x, y, Math.min(dialogs.view ? dialogs.view.w : 60, 60));
    } else {
      drawMarker();
    }
  }

  function drawMap() {
    const map = document.getElementById("map");
    if (map.dataset.drawn) return;
    map.dataset.drawn = "1";
    map.append(svg("rect", { x: -2000, y: -2000, width: 6000, height: 6000, class: "sea" }));
    const units = svg("g", { class: "units" });
    drawUnits(units, null);
    map.append(units);
    const marks = svg("g", { class: "landmark-dots" });
    for (const landmark of state.world.landmarks) {
      const [x, y] = project(landmark.latitude, landmark.longitude);
      const dot = svg("circle", { cx: x, cy: y, r: 1, class: "landmark-dot" });
      const title = svg("title");
      title.textContent = landmark.name[lang] || landmark.name.en;
      dot.append(title);
      marks.append(dot);
    }
    map.append(marks);
    map.append(svg("g", { id: "marker" }));
    wireMap(map);
  }

  function zoomTo(x, y, width) {
    const map = document.getElementById("map");
    const ratio = map.clientHeight && map.clientWidth ? map.clientHeight / map.clientWidth : 0.75;
    const w = Math.max(4, Math.min(width, 1600));
    dialogs.view = { x: x - w / 2, y: y - (w * ratio) / 2, w, h: w * ratio };
    applyView();
  }

  function applyView() {
    const view = dialogs.view;
    const map = document.getElementById("map");
    map.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
    for (const dot of map.querySelectorAll(".landmark-dot")) dot.setAttribute("r", String(view.w / 120));
    drawMarker();
  }

  function drawMarker() {
    const marker = document.getElementById("marker");
    if (!marker || !dialogs.view) return;
    marker.replaceChildren();
    if (!dialogs.point) return;
    const [x, y] = project(dialogs.point[0], dialogs.point[1]);
    marker.append(pinShape(x, y, dialogs.view.w / 14));
  }

  function wireMap(map) {
    const toMap = (event) => {
      const matrix = map.getScreenCTM();
      if (!matrix) return null;
      const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      return [point.x, point.y];
    };
    map.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const at = toMap(event);
        if (!at || !dialogs.view) return;
        const factor = event.deltaY > 0 ? 1.25 : 0.8;
        const view = dialogs.view;
        const w = Math.max(4, Math.min(view.w * factor, 1600));
        const scale = w / view.w;
        dialogs.view = {
          x: at[0] - (at[0] - view.x) * scale,
          y: at[1] - (at[1] - view.y) * scale,
          w,
          h: view.h * scale,
        };
        applyView();
      },
      { passive: false },
    );
    let drag = null;
    map.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, view: { ...dialogs.view }, moved: false };
      map.setPointerCapture(event.pointerId);
    });
    map.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (!drag.moved) return;
      const scale = drag.view.w / map.clientWidth;
      dialogs.view = { ...drag.view, x: drag.view.x - dx * scale, y: drag.view.y - dy * scale };
      applyView();
    });
    map.addEventListener("pointerup", (event) => {
      const wasDrag = drag && drag.moved;
      drag = null;
      if (wasDrag) return;
      const at = toMap(event);
      if (!at) return;
      const [lat, lon] = unproject(at[0], at[1]);
      setPoint(Number(lat.toFixed(5)), Number(lon.toFixed(5)), false);
    });
  }

  function wireLocationDialog() {
    const dialog = document.getElementById("location-dialog");
    closeOn(dialog);
    const lat = document.getElementById("lat");
    const lon = document.getElementById("lon");
    const typed = () => {
      const a = Number(lat.value);
      const b = Number(lon.value);
      if (lat.value !== "" && lon.value !== "" && Number.isFinite(a) && Number.isFinite(b)) {
        dialogs.point = [a, b];
        markLandmark();
        drawMarker();
      }
    };
    lat.addEventListener("input", typed);
    lon.addEventListener("input", typed);
    document.getElementById("zoom-in").addEventListener("click", () => {
      const v = dialogs.view;
      zoomTo(v.x + v.w / 2, v.y + v.h / 2, v.w / 1.6);
    });
    document.getElementById("zoom-out").addEventListener("click", () => {
      const v = dialogs.view;
      zoomTo(v.x + v.w / 2, v.y + v.h / 2, v.w * 1.6);
    });
    document.getElementById("zoom-city").addEventListener("click", () => {
      zoomTo(CITY_VIEW.x + CITY_VIEW.w / 2, CITY_VIEW.y + CITY_VIEW.h / 2, CITY_VIEW.w);
    });
    document.getElementById("location-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!lat.reportValidity() || !lon.reportValidity()) return;
      const send = document.getElementById("location-send");
      send.disabled = true;
      try {
        await dialogs.pane.post(
          "/api/send_location",
          { latitude: Number(lat.value), longitude: Number(lon.value) },
          dialogs.locationReply,
        );
        dialog.close();
      } catch (_) {
        /* shown in the pane */
      } finally {
        send.disabled = false;
      }
    });
  }

  function openResidentDialog(pane) {
    dialogs.pane = pane;
    document.getElementById("resident-name").value = "";
    document.getElementById("resident-lang").value = lang;
    document.getElementById("resident-dialog").showModal();
  }

  function wireResidentDialog() {
    const dialog = document.getElementById("resident-dialog");
    closeOn(dialog);
    document.getElementById("resident-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = document.getElementById("resident-name").value.trim();
      if (!name) return;
      try {
        const user = await api("POST", "/api/residents", {
          first_name: name,
          language_code: document.getElementById("resident-lang").value,
        });
        state.world.residents.push(user);
        dialog.close();
        dialogs.pane.choose(user.id);
      } catch (error) {
        dialogs.pane.toast(t("failed", { error: error.message }), true);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Language of the page's own labels.

  function applyLanguage(next) {
    lang = next;
    window.localStorage.setItem("phananh-playground-lang", lang);
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const button of document.querySelectorAll(".lang-toggle button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    setLive(document.getElementById("live").dataset.state);
    if (state.world) {
      for (const pane of state.panes) {
        pane.labels();
        pane.renderAll();
      }
    }
  }

  function setLive(status) {
    const node = document.getElementById("live");
    node.dataset.state = status;
    node.querySelector(".live-text").textContent = t(
      { live: "live", offline: "offline", connecting: "connecting" }[status] || "connecting",
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Live events.

  function paneFor(chatId) {
    return state.panes.find((pane) => pane.chatId === chatId) || null;
  }

  function onEvent(event) {
    if (event.type === "callback_answer") {
      state.answered.set(event.callback_query_id, event);
      if (state.answered.size > 200) state.answered.delete(state.answered.keys().next().value);
      const pane =
        state.panes.find((p) => p.pending.has(event.callback_query_id)) || paneFor(event.chat_id);
      if (pane) pane.answered(event);
      return;
    }
    const pane = paneFor(event.chat_id);
    if (pane) {
      pane.handle(event);
    } else if (event.type === "message") {
      state.unread.set(event.chat_id, (state.unread.get(event.chat_id) || 0) + 1);
      for (const p of state.panes) p.fillSelect();
    }
  }

  function connect() {
    const source = new EventSource("/api/events");
    source.addEventListener("hello", () => {
      setLive("live");
      refreshMembers();
      for (const pane of state.panes) pane.load();
    });
    for (const kind of ["message", "edited_message", "deleted_message", "callback_answer", "chat_action"]) {
      source.addEventListener(kind, (message) => onEvent(JSON.parse(message.data)));
    }
    source.addEventListener("world", async () => {
      state.world = await api("GET", "/api/world");
      for (const pane of state.panes) pane.labels();
    });
    source.addEventListener("error", () => setLive("offline"));
  }

  async function refreshMembers() {
    try {
      const chats = await api("GET", "/_emulator/chats");
      for (const entry of chats) {
        const members = Object.values(entry.members || {}).filter((s) => s !== "left" && s !== "kicked");
        state.members.set(entry.chat.id, members.length);
      }
      for (const pane of state.panes) pane.header();
    } catch (_) {
      /* the header keeps its default */
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Start.

  async function boot() {
    for (const button of document.querySelectorAll(".lang-toggle button")) {
      button.addEventListener("click", () => applyLanguage(button.dataset.lang));
    }
    wirePhotoDialog();
    wireLocationDialog();
    wireResidentDialog();
    const lightbox = document.getElementById("lightbox");
    lightbox.addEventListener("click", (event) => {
      if (event.target === lightbox) lightbox.close(); // a click beside the picture
    });
    applyLanguage(lang);
    state.world = await api("GET", "/api/world");
    document.getElementById("emulator-link").href = `${state.world.emulator_url}/_emulator/`;
    const root = document.getElementById("panes");
    for (const role of ["resident", "unit", "supervisor"]) {
      const pane = new Pane(role);
      state.panes.push(pane);
      root.append(pane.root);
    }
    const first = (role) => state.world.groups.find((g) => g.role === role);
    state.panes[0].chatId = state.world.residents[0].id;
    state.panes[1].chatId = first("unit") ? first("unit").chat_id : null;
    state.panes[2].chatId = first("supervisor") ? first("supervisor").chat_id : null;
    for (const pane of state.panes) {
      if (pane.chatId === null) {
        pane.root.hidden = true;
        continue;
      }
      // choose() loads; the "hello" of the event stream loads again, so nothing is missed.
      pane.choose(pane.chatId);
    }
    loadMap();
    connect();
    document.body.dataset.ready = "true";
  }

  boot().catch((error) => {
    setLive("offline");
    document.getElementById("panes").append(el("p", "fatal", String(error && error.message)));
  });
})();
