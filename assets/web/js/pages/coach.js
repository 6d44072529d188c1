// The coach: the conversation (kept by the server), answers streamed word by word as the model
// writes them, "clear history" with a confirmation, and the weekly report on a button.
"use strict";
(function (HT) {
  const { h } = HT;
  const { alertBox, showError, busy } = HT.forms;

  function bubble(role, text) {
    return h("li", { class: `message ${role}` },
      h("span", { class: "who", text: role === "user" ? "You" : "Coach" }),
      h("span", { class: "text", text }));
  }

  // What a failure of the AI means to the person.
  function aiMessage(error) {
    if (error.status === 503 && /not configured/i.test(error.message)) {
      return "The coach is not set up on this server (it has no AI provider key). Everything else works.";
    }
    return error.message;
  }

  // Polls a queued job (async mode) until it finishes.
  async function waitForJob(jobId) {
    for (let i = 0; i < 120; i++) {
      const body = await HT.api.get(`/ai/job-status/${encodeURIComponent(jobId)}`);
      const job = body.job || {};
      if (job.state === "completed") return job.result || {};
      if (job.state === "failed") throw new HT.ApiError(502, job.failedReason || "The coach could not answer. Please try again.");
      await new Promise((resolve) => window.setTimeout(resolve, 1000));
    }
    throw new HT.ApiError(504, "The coach is taking too long. Please try again later.");
  }

  function reportView(body) {
    const s = body.summary || {};
    const figures = [];
    if (s.totalDays !== undefined) figures.push(`${s.totalDays} day${s.totalDays === 1 ? "" : "s"} logged`);
    if (s.avgCalories !== undefined) figures.push(`${HT.fmt.number(s.avgCalories)} kcal a day`);
    if (s.avgSleep !== undefined) figures.push(`${HT.fmt.number(s.avgSleep, 1)} h sleep`);
    if (s.workoutDays !== undefined) figures.push(`${s.workoutDays} workout day${s.workoutDays === 1 ? "" : "s"}`);
    return h("div", {},
      figures.length ? h("p", { class: "muted", text: `This week: ${figures.join(" · ")}` }) : null,
      h("div", { class: "report", text: body.report || (typeof body === "string" ? body : "") }));
  }

  HT.page("coach", {
    title: "Coach",
    nav: { label: "Coach", order: 50 },
    async render() {
      const conversation = h("ol", { class: "conversation", "aria-label": "Conversation", "aria-live": "off" });
      const empty = h("p", { class: "muted", text: "Ask about your sleep, your steps, your meals — the coach knows your last seven days." });
      const history = await HT.api.get("/ai/history", { limit: 50 }).catch((error) => {
        if (error instanceof HT.SessionEnded) throw error;
        return { data: [], error };
      });
      for (const message of history.data || []) conversation.append(bubble(message.role, message.content));
      empty.hidden = conversation.children.length > 0;

      const alert = alertBox();
      const inputId = HT.uid("message");
      const input = h("textarea", { id: inputId, name: "message", rows: 2, maxlength: 2000, "data-path": "message", required: true, "aria-describedby": `${inputId}-hint ${inputId}-error` });
      const send = h("button", { class: "button", type: "submit", text: "Send" });
      const form = h("form", { novalidate: true, class: "card" },
        alert,
        h("div", { class: "field" },
          h("label", { for: inputId, text: "Your message" }),
          input,
          h("p", { class: "hint", id: `${inputId}-hint`, text: "Enter sends; Shift+Enter starts a new line." }),
          h("p", { class: "error", id: `${inputId}-error` })),
        h("div", { class: "actions" }, send));
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        HT.forms.clearErrors(form);
        const text = input.value.trim();
        if (!text) {
          showError(form, new HT.ApiError(400, "Write a message first.", [{ path: "message", msg: "Write a message first." }]));
          return;
        }
        const done = busy(send, "Sending…");
        empty.hidden = true;
        const mine = bubble("user", text);
        const reply = bubble("assistant", "");
        reply.setAttribute("aria-busy", "true");
        const replyText = reply.querySelector(".text");
        conversation.append(mine, reply);
        input.value = "";
        reply.scrollIntoView({ block: "nearest" });
        try {
          const response = await HT.api.request("POST", "/ai/chat", { body: { message: text }, accept: "text/event-stream", raw: true });
          const type = response.headers.get("content-type") || "";
          if (type.startsWith("text/event-stream")) {
            let failed = null;
            await HT.api.readEvents(response, (name, data) => {
              if (name === "delta") replyText.textContent += data.text || "";
              else if (name === "done") replyText.textContent = data.reply || data.message || replyText.textContent;
              else if (name === "error") failed = data.message || "The coach could not answer.";
            });
            if (failed) throw new HT.ApiError(502, failed);
          } else {
            // A server or proxy that answered JSON instead (queued in async mode, say).
            const body = await response.json();
            replyText.textContent = body.mode === "async" ? ((await waitForJob(body.jobId)).reply || "") : (body.reply || body.message || "");
          }
          reply.removeAttribute("aria-busy");
          HT.announce(`Coach: ${replyText.textContent}`);
        } catch (error) {
          reply.removeAttribute("aria-busy");
          reply.classList.add("error");
          replyText.textContent = aiMessage(error);
          if (!replyText.textContent) reply.remove();
          if (error.details && error.details.length) showError(form, error);
          if (error.status !== 503 && error.status !== 429) input.value = input.value || text;
        } finally {
          done();
          input.focus();
        }
      });

      const clear = h("button", {
        type: "button",
        class: "button secondary",
        text: "Clear history",
        onclick: async () => {
          const ok = await HT.confirm({ title: "Clear the conversation?", message: "Every message with the coach is deleted. Your entries are not touched.", confirm: "Clear history", danger: true });
          if (!ok) { clear.focus(); return; }
          try {
            await HT.api.del("/ai/history");
            conversation.replaceChildren();
            empty.hidden = false;
            HT.forms.status(alert, "History cleared.");
            HT.announce("History cleared.");
          } catch (error) {
            showError(form, error);
          }
        },
      });

      const reportAlert = alertBox();
      const reportOut = h("div", { "aria-live": "polite" });
      const reportButton = h("button", {
        type: "button",
        class: "button",
        text: "Write my weekly report",
        onclick: async () => {
          HT.forms.clearErrors(reportSection);
          const done = busy(reportButton, "Writing your report…");
          reportOut.replaceChildren(h("p", { class: "loading", text: "The coach is looking at your week…" }));
          try {
            let body = await HT.api.post("/ai/weekly-report", {});
            if (body.mode === "async") body = await waitForJob(body.jobId);
            reportOut.replaceChildren(reportView(body));
          } catch (error) {
            reportOut.replaceChildren();
            const hint = error.status === 404 ? h("p", {}, h("a", { href: "/app/log", text: "Log a day" }), " and try again.") : null;
            showError(reportSection, new HT.ApiError(error.status, aiMessage(error), error.details), hint);
          } finally {
            done();
          }
        },
      });
      const reportSection = h("section", { class: "card", id: "weekly-report", "aria-labelledby": "weekly-title" },
        h("h2", { id: "weekly-title", text: "Weekly report" }),
        h("p", { class: "muted", text: "Your last seven days compared with the week before, in a few encouraging paragraphs." }),
        reportAlert, reportButton, reportOut);

      return h("div", {},
        h("div", { class: "page-head" }, h("h1", { text: "Coach" }), clear),
        history.error ? h("div", { class: "alert alert-error", role: "alert" }, h("p", { text: aiMessage(history.error) })) : null,
        h("section", { "aria-label": "Conversation with the coach" }, empty, conversation, form),
        reportSection,
        h("p", { class: "muted", text: "The coach gives general wellbeing suggestions, not medical advice." }));
    },
  });
})(window.HT);
