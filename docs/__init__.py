"""Documentation. A package only so that ``docs.examples`` strategies can be imported by name."""
