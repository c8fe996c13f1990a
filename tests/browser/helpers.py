"""Shared helpers of the browser tests: watching the console for CSP refusals, waiting for a dialog, and
images that look like what units upload (a bank slip, a stamped 情况说明)."""
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

def watch_csp(page) -> list:
    """The Content Security Policy refusals the page reports on its console, as they come."""
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    return refused


def hold_requests(page, pattern: str) -> list:
    """Hold back the requests matching `pattern` (a script, as on a slow connection) until the test
    lets them go with `release(page, held)`."""
    held = []
    page.route(pattern, lambda route: held.append(route))
    return held


def release(page, held: list):
    """Let the held requests go on. Playwright hands a request to the route handler while the test waits
    on the browser, so a cheap round trip or two is what it takes for a request made to reach `held`."""
    for _ in range(100):
        if held:
            break
        page.evaluate("1")
    assert held, "the page never asked for the held file"
    while held:
        held.pop().continue_()


def transfer_slip() -> bytes:
    """A PNG that looks a little like a bank slip: a coloured header band and ruled lines."""
    image = Image.new("RGB", (640, 400), (250, 251, 253))
    header = Image.new("RGB", (640, 56), (178, 34, 52))
    image.paste(header, (0, 0))
    line = Image.new("RGB", (560, 2), (110, 125, 150))
    for y in range(100, 360, 36):
        image.paste(line, (40, y))
    stamp = Image.new("RGB", (90, 90), (214, 60, 60))
    image.paste(stamp, (500, 270))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def wait_until_shown(page, selector: str):
    """Until Bootstrap's fade has finished (a dialog, or a tab pane), so a screenshot or a click meets
    the element, not its ghost: it has class `show`, is fully opaque and a dialog's box has slid in, its backdrop
    dimmed and the focus inside it.
    wait_for_function runs through the DevTools protocol, which the page's CSP does not restrict."""
    page.wait_for_function(
        """selector => {
            const element = document.querySelector(selector);
            if (!element || !element.classList.contains("show") || getComputedStyle(element).opacity !== "1") {
                return false;
            }
            if (!element.classList.contains("modal")) {
                return true;  // a tab pane
            }
            const box = element.querySelector(".modal-dialog");
            const backdrop = document.querySelector(".modal-backdrop");
            // Bootstrap moves the focus into the dialog when its fade has ended (shown.bs.modal): a
            // key pressed before that would act on the page behind, or be taken back.
            return getComputedStyle(box).transform === "none" && backdrop !== null
                && getComputedStyle(backdrop).opacity === "0.5" && element.contains(document.activeElement);
        }""",
        arg=selector,
    )


def situation_note_png() -> SimpleUploadedFile:
    """Something that looks like a stamped letter, so the thumbnail shows a page."""
    image = Image.new("RGB", (480, 640), "#fdfdf8")
    draw = ImageDraw.Draw(image)
    draw.line((150, 60, 330, 60), fill="#333333", width=8)
    for line in range(10):
        draw.line((50, 130 + line * 38, 430 - (line % 3) * 40, 130 + line * 38), fill="#666666", width=4)
    draw.ellipse((290, 470, 430, 610), outline="#d11a2a", width=8)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return SimpleUploadedFile("情况说明（加盖公章）.png", buffer.getvalue(), content_type="image/png")
