"""Unit tests of the FAQ bot's pure parts: signature checks and knowledge matching.

The bot as a real process against a real relay is tested from Rust (tests/example_bots.rs).
Run: python3 -m unittest discover -s bots/faq-python -v
"""

import hashlib
import hmac
import os
import unittest

import faq_bot

SECRET = "s3cret"
HERE = os.path.dirname(os.path.abspath(__file__))


def signed(body, ts, secret=SECRET):
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"switchboard-timestamp": str(ts), "switchboard-signature": "v1=" + mac}


class Signature(unittest.TestCase):
    body = b'{"id":"evt_1","event":{"type":"released"}}'

    def test_accepts_a_fresh_genuine_event(self):
        self.assertIsNone(faq_bot.verify(SECRET, signed(self.body, 1000), self.body, now=1010))

    def test_refuses_a_changed_body(self):
        why = faq_bot.verify(SECRET, signed(self.body, 1000), self.body + b" ", now=1000)
        self.assertEqual(why, "signature does not match")

    def test_refuses_another_secret(self):
        why = faq_bot.verify(SECRET, signed(self.body, 1000, "other"), self.body, now=1000)
        self.assertEqual(why, "signature does not match")

    def test_refuses_stale_and_future_timestamps(self):
        for now in (1000 + 301, 1000 - 301):
            why = faq_bot.verify(SECRET, signed(self.body, 1000), self.body, now=now)
            self.assertEqual(why, "timestamp outside the replay window")

    def test_refuses_missing_or_garbage_headers(self):
        self.assertEqual(faq_bot.verify(SECRET, {}, self.body), "missing signature headers")
        headers = {"switchboard-timestamp": "soon", "switchboard-signature": "v1=00"}
        self.assertEqual(faq_bot.verify(SECRET, headers, self.body), "timestamp is not a number")


class Matching(unittest.TestCase):
    kb = faq_bot.Knowledge(os.path.join(HERE, "knowledge.json"))

    def test_finds_the_question_asked(self):
        self.assertEqual(self.kb.best("How long does shipping take?")["id"], "shipping")
        self.assertEqual(self.kb.best("can I get a refund")["id"], "returns")
        self.assertEqual(self.kb.best("do you take PayPal?")["id"], "payment")

    def test_is_unsure_when_nothing_fits(self):
        self.assertIsNone(self.kb.best("the weather on mars"))

    def test_buttons_skip_the_answered_question(self):
        buttons = self.kb.buttons(skip="shipping")
        self.assertTrue(buttons)
        self.assertNotIn("faq:shipping", [b["payload"] for b in buttons])
        for b in buttons:
            self.assertEqual(b["type"], "postback")
            self.assertLessEqual(len(b["label"].encode()), 80)


if __name__ == "__main__":
    unittest.main()
