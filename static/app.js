() => {
  // The chat app's script: app.py passes it to Gradio's launch(js=...), which runs it once on page load.
  // Copy buttons in replies (rag/render.py): the chat sanitises reply HTML, so clicks are handled here.
  document.addEventListener("click", (event) => {
    const button = event.target.closest ? event.target.closest(".rag-copy") : null;
    if (!button) return;
    const holder = button.parentElement ? button.parentElement.querySelector(".rag-copy-text") : null;
    const text = holder ? holder.textContent : "";
    const done = () => {
      button.textContent = "已复制 Copied";
      setTimeout(() => { button.textContent = "复制 Copy"; }, 1500);
    };
    const fallback = () => {  // no Clipboard API outside a secure context (http on another host)
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  });
  // After each answer (app.py's SHOW_ANSWER_JS): show the answer. The new question goes to the top of the chat when
  // the question and the answer fit above the chat's scroll-to-latest arrow, else the answer itself goes to the top
  // (a long reply would leave the chat at its last citation, the answer out of sight); the window scrolls too when
  // the chat's answer is outside it (a short window). Gradio's chat scrolls itself to its end about 300 ms after a
  // message arrives, later than this runs: for 1.5 s after, such a scroll is undone, unless the user scrolled,
  // clicked or typed meanwhile.
  const scroller = (element) => {
    let box = element && element.parentElement;
    while (box && !(box.scrollHeight > box.clientHeight + 4 && /auto|scroll/.test(getComputedStyle(box).overflowY))) {
      box = box.parentElement;
    }
    return box;
  };
  const last = (selector) => {
    const all = document.querySelectorAll(selector);
    return all[all.length - 1];
  };
  // px at the bottom of the chat left below a shown question and answer: a little room only, since the scroll-to-latest
  // arrow has a column of its own beside the messages (static/app.css) and covers none of them
  const ARROW_ROOM = 12;
  const unanswered = (question) => {  // the chat's last question, with no reply after it yet
    const reply = last("#rag-chat .rag-reply");
    return question && !(reply && (question.compareDocumentPosition(reply) & Node.DOCUMENT_POSITION_FOLLOWING));
  };
  // After a question is sent (app.py's SHOW_QUESTION_JS, before its answer is asked for): bring it into view. Gradio's
  // chat follows a new message only when it is scrolled to its end already, so a user who had scrolled up did not see
  // the question arrive (only the answer, placed by ragShowAnswer). The question goes to the top of the chat as far as
  // the chat scrolls (being the last message, mostly to the chat's end); ragShowAnswer places it again with its answer.
  window.ragShowQuestion = () => {
    const started = performance.now();
    const show = () => {
      const question = last("#rag-chat .rag-question");
      if (!unanswered(question)) {  // not rendered yet (or nothing was sent: an empty box)
        if (performance.now() - started < 2000) requestAnimationFrame(show);
        return;
      }
      const box = scroller(question);
      if (box) box.scrollTop += question.getBoundingClientRect().top - box.getBoundingClientRect().top - 24;
      const q = question.getBoundingClientRect();  // a short window: the window scrolls too
      if (q.top < 0 || q.bottom > innerHeight) window.scrollBy(0, q.top < 0 ? q.top - 12 : q.bottom - innerHeight + 12);
    };
    requestAnimationFrame(show);
  };
  window.ragShowAnswer = () => {
    const started = performance.now();
    const show = () => {
      const question = last("#rag-chat .rag-question"), reply = last("#rag-chat .rag-reply");
      const answered = question && reply && (question.compareDocumentPosition(reply) & Node.DOCUMENT_POSITION_FOLLOWING);
      if (!answered) {  // the reply is not rendered yet
        if (performance.now() - started < 5000) requestAnimationFrame(show);
        return;
      }
      const answer = reply.querySelector(".rag-short, .rag-sentence, .rag-abstain, .rag-error") || reply;
      const end = reply.querySelector(".rag-sentence, .rag-abstain, .rag-error") || answer;
      const place = () => {
        const box = scroller(reply);
        if (box) {
          const view = box.getBoundingClientRect(), top = question.getBoundingClientRect().top;
          const fits = end.getBoundingClientRect().bottom - top + 24 <= box.clientHeight - ARROW_ROOM;
          box.scrollTop += (fits ? top : answer.getBoundingClientRect().top) - view.top - (fits ? 24 : 12);
        }
        const chat = document.querySelector("#rag-chat").getBoundingClientRect(), a = answer.getBoundingClientRect();
        if (a.top < 0 || a.bottom > innerHeight) {  // the chat's top to the window's top, or at least the answer in
          window.scrollBy(0, a.bottom - chat.top + 8 <= innerHeight ? chat.top - 8 : a.top - 12);
        }
        return box;
      };
      const box = place();
      if (!box) return;
      let target = box.scrollTop, user = false;
      const byUser = () => { user = true; };
      const events = ["wheel", "touchstart", "keydown", "pointerdown"];
      const onScroll = () => {
        if (!user && Math.abs(box.scrollTop - target) > 2) { place(); target = box.scrollTop; }
      };
      events.forEach((name) => document.addEventListener(name, byUser, {capture: true, passive: true}));
      box.addEventListener("scroll", onScroll);
      setTimeout(() => {
        box.removeEventListener("scroll", onScroll);
        events.forEach((name) => document.removeEventListener(name, byUser, {capture: true}));
      }, 1500);
    };
    requestAnimationFrame(show);
  };
}
