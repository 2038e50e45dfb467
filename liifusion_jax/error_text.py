"""Error messages cut to one line: orbax's and tensorstore's run to pages."""
import re

_SPEC = re.compile(r"\s*\[tensorstore_spec='[^']*'\]")


def reason(error, limit=160):
  """The first sentence of an error, its middle cut where long: orbax's and tensorstore's run to pages.
  What failed is the operating system's words before `[os_error_code=N]` ("File too large", "No space
  left on device"); tensorstore puts its spec (`[tensorstore_spec='...']`, hundreds of characters)
  before or after that code, so the spec is dropped and the text ends at the code."""
  text = str(error).strip().splitlines()[0].split(". ")[0] if str(error).strip() else type(error).__name__
  text = _SPEC.sub("", text)
  os_error = text.rfind("[os_error_code=")
  if os_error >= 0 and text.find("]", os_error) >= 0:
    text = text[:text.find("]", os_error) + 1]
  return text if len(text) <= limit else f"{text[:limit // 2 - 5]} ... {text[-limit // 2:]}"
