"""A Superset user in a real browser: headless Chromium driven through the DevTools protocol
over a pipe (--remote-debugging-pipe: JSON messages ended by NUL, fd 3 into the browser, fd 4
out of it), so the standard library is enough. Logs in through the login form and screenshots
the welcome page, or screenshots any page. The flags stop Chromium's own background traffic and
let it resolve only the URL's host; still run it only inside the node tier's network (or a
loopback-only namespace).

Usage:
    browser.py login-screenshot BASE_URL USER PASSWORD OUT.png
    browser.py screenshot URL OUT.png [--expect TEXT]

Prints one JSON object on its last line ({"url", "title", "bytes", "settled", "seconds"});
exits non-zero with the reason on failure. CHROMIUM overrides the browser binary.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from base64 import b64decode

WIDTH, HEIGHT = 1280, 800
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
    f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "--mute-audio",
    # No traffic of Chromium's own: updates, sync, metrics, field trials, network time. What
    # still tries (an on-demand component update) dies in the resolver: --host-resolver-rules
    # below resolves nothing but the host under test, without asking any DNS server.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-pings",
    "--disable-domain-reliability", "--metrics-recording-only", "--disable-breakpad",
    "--disable-field-trial-config", "--disable-search-engine-choice-screen",
    "--password-store=basic",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"
    "AutofillServerCommunication,NetworkTimeServiceQuerying",
]
# The password manager would check the password it sees submitted against Google's leak list.
PREFERENCES = {
    "credentials_enable_service": False,
    "profile": {"password_manager_enabled": False, "password_manager_leak_detection": False},
}
# Superset 6 renders its login form with React and antd: the inputs have ids, not names.
INPUT = "document.querySelector('input[name=\"{0}\"], input#{0}, input[data-test=\"{0}-input\"]')"
# Types the user and password so that React sees them, then submits once React re-rendered;
# returns at once, before the page navigates away.
SUBMIT = """((user, password) => {
  const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  const inputs = [%s, %s];
  for (const [input, value] of [[inputs[0], user], [inputs[1], password]]) {
    input.focus();
    setValue.call(input, value);  // past React's own value tracking, so that it sees a change
    input.dispatchEvent(new Event('input', {bubbles: true}));
    input.dispatchEvent(new Event('change', {bubbles: true}));
  }
  const form = inputs[1].form;
  const button = (form || document).querySelector('button[type=submit], input[type=submit]');
  if (!button && !form) throw new Error('no submit button and no form');
  setTimeout(() => (button ? button.click() : form.requestSubmit()), 200);
})""" % (INPUT.format("username"), INPUT.format("password"))
# The page's state: spinners (Superset's Loading, antd's Spin and Skeleton) and its text.
SPINNERS = '[data-test="loading-indicator"], .loading, .ant-spin-spinning, .ant-skeleton-active'
STATE = f"""[document.readyState, document.querySelectorAll('{SPINNERS}').length,
  document.body.innerText]"""


class CdpError(Exception):
    pass


class Browser:
    def __init__(self, host):
        binary = os.environ.get("CHROMIUM", "chromium")
        if not shutil.which(binary):
            sys.exit(f"no browser {binary!r}: install Debian's chromium (hack/node.sh does)")
        self.work = tempfile.mkdtemp(prefix="browser-")
        os.makedirs(f"{self.work}/profile/Default")
        with open(f"{self.work}/profile/Default/Preferences", "w") as file:
            json.dump(PREFERENCES, file)
        self.log = open(os.path.join(self.work, "chromium.log"), "wb")
        to_browser, self.writer = os.pipe()
        self.reader, from_browser = os.pipe()

        def wire():  # in the child, before exec: fd 3 reads our commands, fd 4 writes replies
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        try:
            self.process = subprocess.Popen(
                [binary, *FLAGS, f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {host}",
                 f"--user-data-dir={self.work}/profile", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                pass_fds=(3, 4), preexec_fn=wire, start_new_session=True,
            )
        except OSError as error:
            shutil.rmtree(self.work, ignore_errors=True)
            sys.exit(f"starting {binary}: {error}")
        os.close(to_browser)
        os.close(from_browser)
        self.buffer, self.next_id, self.session, self.last_error = b"", 0, None, None
        self.loads, self.status, self.requests, self.network_at = 0, {}, set(), time.time()

    def attach(self):
        """A page of WIDTH x HEIGHT, to which every later command goes."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        reply = self.send("Target.attachToTarget", targetId=target, flatten=True)
        self.session = reply["sessionId"]
        for domain in ("Page", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                  deviceScaleFactor=1, mobile=False)

    def close(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the browser, its renderers, zygotes
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        shutil.rmtree(self.work, ignore_errors=True)

    def fail(self, reason, log=False):
        """Exits with the reason and, when the browser itself failed, its log (but D-Bus)."""
        self.log.flush()
        with open(self.log.name, errors="replace") as file:
            lines = [line for line in file if "dbus" not in line][-15:]
        sys.exit(f"{reason}\nchromium's log ends with:\n{''.join(lines)}" if log else reason)

    def receive(self, deadline):
        """The next message, or None at the deadline; keeps count of loads and requests."""
        while b"\0" not in self.buffer:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.reader], [], [], left)[0]:
                return None
            chunk = os.read(self.reader, 1 << 20)
            if not chunk:
                self.fail(f"chromium exited with {self.process.wait(10)}", log=True)
            self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        message = json.loads(raw)
        method, params = message.get("method"), message.get("params", {})
        if method == "Page.loadEventFired":
            self.loads += 1
        elif method == "Network.responseReceived" and params["type"] == "Document":
            self.status[params.get("frameId")] = params["response"]["status"]
        elif method == "Network.requestWillBeSent":
            self.requests.add(params["requestId"])
            self.network_at = time.time()
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            self.requests.discard(params["requestId"])
            self.network_at = time.time()
        return message

    def send(self, method, timeout=30, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.writer, data) :]
        deadline = time.time() + timeout
        while (reply := self.receive(deadline)) is not None:
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error'].get('message')}")
                return reply["result"]
        self.fail(f"no reply to {method} within {timeout} s", log=True)

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    def probe(self, expression):
        """The expression's value, or None while no document can run it (mid-navigation)."""
        try:
            return self.evaluate(expression)
        except CdpError as error:
            self.last_error = error
            return None

    def wait_for(self, check, timeout, what):
        deadline = time.time() + timeout
        while not (value := check()):
            if time.time() > deadline:
                where = self.probe("location.href + ': ' + document.body.innerText.slice(0, 500)")
                error = f" (last error: {self.last_error})" if self.last_error else ""
                self.fail(f"timed out after {timeout} s waiting for {what}{error}; at {where}")
            self.pump(0.25)
        return value

    def pump(self, seconds):
        deadline = time.time() + seconds
        while self.receive(deadline) is not None:
            pass

    def goto(self, url, timeout=60):
        self.loads, self.status = 0, {}
        navigated = self.send("Page.navigate", url=url)
        if navigated.get("errorText"):
            self.fail(f"opening {url}: {navigated['errorText']}")
        complete = "document.readyState == 'complete'"
        self.wait_for(lambda: self.loads and self.probe(complete), timeout, f"{url} to load")
        status = self.status.get(navigated["frameId"], 0)
        if status >= 400:
            text = self.probe("document.body.innerText.slice(0, 300)")
            self.fail(f"opening {url}: HTTP {status}: {text!r}")

    def settle(self, timeout=30):
        """Whether, within the timeout, the page shows text and no spinner, has no request in
        flight for half a second and has not changed for one second."""
        deadline, last, since = time.time() + timeout, None, time.time()
        while time.time() < deadline:
            state = self.probe(STATE)
            if state != last:
                last, since = state, time.time()
            idle = not self.requests and time.time() - self.network_at > 0.5
            if state and state[0] == "complete" and not state[1] and state[2].strip() and idle:
                if time.time() - since > 1:
                    return True
            self.pump(0.25)
        return False

    def screenshot(self, out, started):
        data = self.send("Page.captureScreenshot", timeout=60, format="png")["data"]
        with open(out, "wb") as file:
            size = file.write(b64decode(data))
        url, title = self.evaluate("[location.href, document.title]")
        seconds = round(time.time() - started, 1)
        return {"url": url, "title": title, "bytes": size, "seconds": seconds}


def login_screenshot(browser, base, user, password, out, started, attempts=3):
    """Signs in; a form that comes back is filled again, up to `attempts` times: on a busy
    machine React may re-render it between the typing and the click."""
    browser.goto(base.rstrip("/") + "/login/")
    inputs = f"!!{INPUT.format('username')} && !!{INPUT.format('password')}"
    welcome = "location.pathname.startsWith('/superset/welcome/')"
    for attempt in range(1, attempts + 1):
        browser.wait_for(lambda: browser.probe(inputs), 60, "the login form's inputs")
        browser.loads = 0
        browser.evaluate(f"({SUBMIT})({json.dumps(user)}, {json.dumps(password)})")

        def landed():
            if browser.loads and browser.probe("location.pathname.startsWith('/login')"):
                return "again"
            return browser.loads and browser.probe(f"{welcome} && document.readyState == 'complete'")

        if browser.wait_for(landed, 90, "the welcome page after signing in") != "again":
            break
        if attempt == attempts:
            browser.fail(f"the login form came back {attempts} times: wrong user or password?")
    browser.wait_for(lambda: browser.probe("document.body.innerText.trim()"), 60, "its text")
    settled = browser.settle()
    return {**browser.screenshot(out, started), "settled": settled}


def screenshot(browser, url, out, expect, started):
    browser.goto(url)
    if expect is not None:
        found = f"document.body.innerText.includes({json.dumps(expect)})"
        browser.wait_for(lambda: browser.probe(found), 30, f"the text {expect!r}")
    settled = browser.settle()
    return {**browser.screenshot(out, started), "settled": settled}


def main():
    args, started = sys.argv[1:], time.time()
    login = args[:1] == ["login-screenshot"] and len(args) == 5
    expect = args[4] if len(args) == 5 and args[3] == "--expect" else None
    if not login and not (args[:1] == ["screenshot"] and (len(args) == 3 or expect)):
        sys.exit(__doc__)
    host = urllib.parse.urlsplit(args[1]).hostname or sys.exit(f"not a URL: {args[1]}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    browser = Browser(host)
    try:
        browser.attach()
        if login:
            result = login_screenshot(browser, *args[1:], started)
        else:
            result = screenshot(browser, args[1], args[2], expect, started)
    except CdpError as error:
        sys.exit(f"DevTools: {error}")
    finally:
        browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
