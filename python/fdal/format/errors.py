"""FormatError, raised for every broken rule of docs/format.md, and the range check that words it."""


class FormatError(ValueError):
    """A .fdal file (or a ModelSpec about to be written) breaks a rule of docs/format.md."""


def check_range(value, lo, hi, name: str, where: str = "header") -> None:
    if not lo <= value <= hi:
        raise FormatError(f"{where}: {name} = {value} must be in {lo}..{hi}")
