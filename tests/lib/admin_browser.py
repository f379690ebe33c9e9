"""admin_browser.py - drive rcptguard-admin's web page in a real headless Chromium (selenium).

    /usr/bin/python3 admin_browser.py URL CUSTOMER_TOKEN OPERATOR_TOKEN SHOTS_DIR BAD_LIST GOOD_LIST

Signs in with the keyboard only, clears example.org's callout cache (keyboard only too),
uploads a bad then a good list for only.test, runs the SMTP tester of example.org, then
signs in as the operator. Prints one "key<TAB>value" line per thing it read off the page,
for the test script to assert, and keeps a screenshot of each page in SHOTS_DIR.
"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

url, cust, ops, shots, bad_list, good_list = sys.argv[1:7]
WAIT = 60


def out(key, value):
    print("%s\t%s" % (key, str(value).replace("\n", " | ")), flush=True)


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1200,1400", "--no-first-run", "--disable-extensions",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--proxy-server=direct://", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
    opts.add_argument(a)
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
drv.set_page_load_timeout(WAIT)
wait = WebDriverWait(drv, WAIT)


def shot(name):
    path = "%s/%s.png" % (shots, name)
    drv.save_screenshot(path)
    out("shot", path)


def active():
    return drv.switch_to.active_element


def text_when(css, pred, root=None):
    """Wait until the element's text satisfies pred; return it."""
    box = root or drv

    def ready(_):
        t = box.find_element(By.CSS_SELECTOR, css).text
        return t if pred(t) else False
    return wait.until(ready)


def sign_in(token):
    drv.get(url + "/")
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    # Keyboard only: the token field has the focus; Enter submits the form.
    wait.until(lambda d: active().get_attribute("id") == "token")
    active().send_keys(token + Keys.ENTER)
    return text_when("#who", lambda t: t.startswith("Signed in as"))


try:
    drv.get(url + "/")
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    shot("01-signin")
    out("focus_at_start", active().get_attribute("id"))
    out("who", sign_in(cust))
    domains = [e.text for e in drv.find_elements(By.CSS_SELECTOR, "section.domain h2")]
    out("domains", ",".join(domains))
    ex = drv.find_element(By.ID, "domain-example.org")
    text_when("dl.status", lambda t: "Destination" in t, ex)
    out("status_example", ex.find_element(By.CSS_SELECTOR, "dl.status").text)
    shot("02-domains")

    # Clear the callout cache with the keyboard: Tab from the focused first button until
    # example.org's "Clear all verdicts", then Enter.
    seen = []
    for _ in range(40):
        a = active()
        seen.append(a.text or a.get_attribute("name") or a.tag_name)
        if a.text == "Clear all verdicts" and ex.find_elements(By.CSS_SELECTOR, ".flush-all") and \
                a == ex.find_element(By.CSS_SELECTOR, ".flush-all"):
            break
        a.send_keys(Keys.TAB)
    out("tab_order", ";".join(seen))
    active().send_keys(Keys.ENTER)
    out("flush", text_when(".flush-msg", lambda t: t.startswith("Cleared") or t.startswith("Not"), ex))
    shot("03-flushed")

    # Upload a bad list, then a good one, for only.test.
    only = drv.find_element(By.ID, "domain-only.test")
    only.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(bad_list)
    only.find_element(By.CSS_SELECTOR, ".upload button").click()
    out("upload_bad", text_when(".upload-msg", lambda t: t.startswith("List refused") or t.startswith("Upload failed"), only))
    problems = [li.text for li in only.find_elements(By.CSS_SELECTOR, "ol.problems li")]
    out("problems", ";".join(problems))
    shot("04-upload-refused")
    only.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(good_list)
    only.find_element(By.CSS_SELECTOR, ".upload button").click()
    out("upload_good", text_when(".upload-msg", lambda t: t.startswith("List in force") or t.startswith("Upload failed")
                                 or t.startswith("List held"), only))
    out("status_only", text_when("dl.status", lambda t: "addresses in force" in t, only))
    shot("05-upload-in-force")

    # The SMTP tester of example.org.
    ex.find_element(By.CSS_SELECTOR, ".probe input[name=rcpt]").send_keys("user1@example.org")
    ex.find_element(By.CSS_SELECTOR, ".probe button").click()
    out("probe", text_when(".probe-msg", lambda t: t.startswith("Usable") or t.startswith("Not") or
                           t.startswith("Test not"), ex))
    rows = ex.find_elements(By.CSS_SELECTOR, "table.steps tbody tr")
    out("probe_steps", ";".join(r.find_elements(By.TAG_NAME, "td")[0].text + "=" +
                                r.find_elements(By.TAG_NAME, "td")[1].text for r in rows))
    drv.execute_script("arguments[0].scrollIntoView()", ex.find_element(By.CSS_SELECTOR, "table.steps"))
    shot("06-tester")

    # The operator's view: counters and greylisting.
    drv.find_element(By.ID, "signout").click()
    time.sleep(0.5)
    out("who_op", sign_in(ops))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#counters tbody tr")) > 0)
    out("counters", ";".join(r.text for r in drv.find_elements(By.CSS_SELECTOR, "#counters tbody tr")))
    out("ops_visible", drv.find_element(By.ID, "ops").is_displayed())
    drv.find_element(By.ID, "gl-ip").send_keys("127.0.4.0/24" + Keys.ENTER)
    out("greylist_msg", text_when("#greylist-msg", lambda t: t != ""))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#greylist tbody tr")) > 0)
    out("greylist", ";".join(r.text for r in drv.find_elements(By.CSS_SELECTOR, "#greylist tbody tr")))
    drv.execute_script("arguments[0].scrollIntoView()", drv.find_element(By.ID, "ops"))
    shot("07-operator")
    logs = drv.get_log("browser") if hasattr(drv, "get_log") else []
    # Failed loads of expected 4xx answers (the refused upload's 422) are "network"
    # entries; script errors and CSP violations are not.
    errors = [m for m in logs if m.get("level") == "SEVERE" and m.get("source") != "network"]
    out("console_errors", len(errors))
    out("console", " // ".join("%s: %s" % (m.get("source"), m.get("message", "")[:150]) for m in logs))
except Exception as e:  # the test script reports what is missing
    out("exception", "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    try:
        shot("99-failure")
    except Exception:
        pass
finally:
    drv.quit()
