#!/usr/bin/env python3
"""Switchboard FAQ bot: a webhook service that answers from a small knowledge base.

The relay POSTs every event for this bot to /webhook, signed with the shared secret. The bot
checks the signature and the timestamp, skips event ids it has already handled (a retried event
keeps its id), and answers through the relay's bot HTTP API with its bearer token. An event is
acknowledged (2xx) only after it was handled, so an event whose answer failed is sent again; the
answer's Idempotency-Key is derived from the event id, so that second try cannot double it.

Standard library only:

    python3 faq_bot.py --listen 127.0.0.1:8090 --relay http://127.0.0.1:8080 \
        --token BOT_TOKEN --secret WEBHOOK_SECRET [--knowledge knowledge.json]
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLAY_WINDOW_SECS = 300
MAX_BODY_BYTES = 1024 * 1024
HUMAN_WORDS = {"human", "person", "agent", "someone", "somebody", "representative", "staff"}
FRUSTRATION_WORDS = {"useless", "ridiculous", "terrible", "angry", "annoyed", "stupid", "worst"}
POSTBACK_PREFIX = "faq:"
# A keyword score below this is "unsure": the bot offers the top questions, then hands off.
MIN_SCORE = 1


def words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


class Knowledge:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.shop = data["shop"]
        self.entries = {e["id"]: e for e in data["entries"]}
        self.top = [self.entries[i] for i in data["top"]]

    def best(self, text):
        """The entry whose keywords the text shares most, or None when nothing fits."""
        said = set(words(text))
        scored = [(len(said & set(e["keywords"])), e) for e in self.entries.values()]
        score, entry = max(scored, key=lambda s: s[0])
        return entry if score >= MIN_SCORE else None

    def buttons(self, skip=None):
        """Postback buttons for the top questions, without the one just answered."""
        return [
            {"type": "postback", "label": e["question"], "payload": POSTBACK_PREFIX + e["id"]}
            for e in self.top
            if e["id"] != skip
        ][:3]


def verify(secret, headers, body, now=None):
    """None when the request is a genuine, fresh event; else why it is not."""
    ts = headers.get("switchboard-timestamp")
    sig = headers.get("switchboard-signature")
    if not ts or not sig:
        return "missing signature headers"
    try:
        ts_num = int(ts)
    except ValueError:
        return "timestamp is not a number"
    now = time.time() if now is None else now
    if abs(now - ts_num) > REPLAY_WINDOW_SECS:
        return "timestamp outside the replay window"
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest("v1=" + mac.hexdigest(), sig):
        return "signature does not match"
    return None


class RelayApi:
    """The relay's bot HTTP API."""

    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def post(self, conversation_id, what, body, idempotency_key=None):
        url = f"{self.base}/v1/bot/conversations/{conversation_id}/{what}"
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        req.add_header("content-type", "application/json")
        req.add_header("authorization", f"Bearer {self.token}")
        if idempotency_key:
            req.add_header("idempotency-key", idempotency_key)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


class Bot:
    def __init__(self, knowledge, api):
        self.kb = knowledge
        self.api = api
        self.lock = threading.Lock()
        # Event ids already handled, oldest first, bounded so a long-running bot stays small.
        self.seen = OrderedDict()
        # Per conversation: the highest visitor seq answered, misses in a row, last question.
        self.state = {}

    def handle(self, event):
        """Handles one event; raises when the relay could not take the answer (so it retries)."""
        frame = event["event"]
        kind = frame.get("type")
        if kind == "routed":
            conv = frame["conversation"]["id"]
            # A conversation given to the bot mid-way (hand back, humans-first fallback) may
            # already hold an unanswered question: answer the latest one.
            visitor = [m for m in frame.get("transcript", []) if m["sender"]["kind"] == "visitor"]
            if visitor:
                self.answer(event["id"], conv, visitor[-1])
        elif kind == "message" and frame["sender"]["kind"] == "visitor":
            self.answer(event["id"], frame["conversation_id"], frame)
        elif kind == "released":
            self.state.pop(frame["conversation_id"], None)

    def answer(self, event_id, conv, msg):
        st = self.state.setdefault(conv, {"answered": 0, "misses": 0, "question": None})
        if msg["seq"] <= st["answered"]:
            return
        text = msg["text"]
        postback = msg.get("postback") or ""
        said = set(words(text))
        key = "r-" + event_id
        self.typing(conv)
        if postback.startswith(POSTBACK_PREFIX) and postback[len(POSTBACK_PREFIX):] in self.kb.entries:
            entry = self.kb.entries[postback[len(POSTBACK_PREFIX):]]
        elif said & HUMAN_WORDS:
            return self.hand_off(key, conv, st, "requested", text)
        elif said & FRUSTRATION_WORDS:
            return self.hand_off(key, conv, st, "frustration", text)
        else:
            entry = self.kb.best(text)
        st["question"] = text
        if entry is None:
            st["misses"] += 1
            if st["misses"] >= 2:
                self.hand_off(key, conv, st, "cannot_help", text)
            else:
                self.say(
                    key,
                    conv,
                    "I am not sure I understood. Is it one of these? Or write \"human\" to reach our team.",
                    self.kb.buttons(),
                )
        else:
            st["misses"] = 0
            self.say(key, conv, entry["answer"], self.kb.buttons(skip=entry["id"]))
        st["answered"] = msg["seq"]

    def typing(self, conv):
        # Best effort: a lost typing indicator is harmless.
        self.api.post(conv, "typing", {"active": True})

    def say(self, key, conv, text, buttons):
        body = {"text": text}
        if buttons:
            body["rich"] = {"buttons": buttons}
        status, reply = self.api.post(conv, "messages", body, idempotency_key=key)
        if status == 409 and b"not_owner" in reply:
            return  # An agent took the conversation over: nothing to say any more.
        if status >= 300:
            raise RuntimeError(f"relay refused the answer: {status} {reply[:200]!r}")

    def hand_off(self, key, conv, st, reason, text):
        self.say(key, conv, f"I am passing you to a person at {self.kb.shop}; they will see this conversation.", [])
        question = st["question"] or text
        handoff = {
            "reason": reason,
            "summary": f"FAQ bot could not settle this; the visitor asked: {question[:300]}",
            "team": "support",
            "priority": "high" if reason == "frustration" else "normal",
            "fields": {"question": question[:300]},
        }
        status, reply = self.api.post(conv, "handoff", handoff)
        if status >= 300 and b"not_owner" not in reply:
            raise RuntimeError(f"relay refused the handoff: {status} {reply[:200]!r}")
        self.state.pop(conv, None)

    def receive(self, event):
        """Handles an event once, however often it is delivered."""
        with self.lock:
            if event["id"] in self.seen:
                return
            self.handle(event)
            self.seen[event["id"]] = True
            while len(self.seen) > 10000:
                self.seen.popitem(last=False)


def make_handler(bot, secret):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            if self.path != "/webhook":
                return self.reply(404, "no such path")
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                return self.reply(413, "body too large")
            body = self.rfile.read(length)
            why = verify(secret, {k.lower(): v for k, v in self.headers.items()}, body)
            if why:
                return self.reply(401, why)
            try:
                event = json.loads(body)
            except ValueError:
                return self.reply(400, "body is not JSON")
            try:
                bot.receive(event)
            except Exception as e:  # noqa: BLE001 - any failure means "send it again"
                print(f"faq-bot: event {event.get('id')} failed: {e}", file=sys.stderr, flush=True)
                return self.reply(503, "could not handle the event; retry")
            self.reply(200, "ok")

        def reply(self, status, text):
            data = json.dumps({"status": status, "message": text}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", default="127.0.0.1:8090", help="HOST:PORT to serve /webhook on")
    p.add_argument("--relay", required=True, help="the relay's HTTP base URL")
    p.add_argument("--token", required=True, help="this bot's token")
    p.add_argument("--secret", required=True, help="the webhook signing secret")
    p.add_argument("--knowledge", default=os.path.join(here, "knowledge.json"))
    args = p.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    bot = Bot(Knowledge(args.knowledge), RelayApi(args.relay, args.token))
    server = ThreadingHTTPServer((host, int(port)), make_handler(bot, args.secret))
    print(f"faq-bot listening on http://{host}:{port}/webhook", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
