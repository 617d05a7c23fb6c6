"""Presentation: how offerctl shows statuses, plans and histories to people and scripts.

Pure rendering only: every function takes plain data (and `now` where ages are
shown) and returns rich renderables or text. Nothing here reads git, the
clock or the marketplace; the commands do that and hand the results over.

- `console`: a rich Console that is coloured on a terminal and plain when
  piped, honouring `--color`/`--no-color` and NO_COLOR;
- `timefmt`: durations ("3d 4h"), timestamps, and an offer's time in phase;
- `progress`: stage progress glyphs (`●●◐○○○ 2/6`);
- `stages`: our stage names beside the marketplace's names for the same step;
- `offers`: the offers table and one offer's detailed view;
- `plan`, `history`: the views of `offerctl plan` and `offerctl history`;
- `data`: JSON and YAML output of status dicts.
"""
