"""File-content risk analyzers: secrets, sensitive files, malware and baseline (rule-driven, rules in ``hullscan/rules``).

* :mod:`.secrets`, :mod:`.sensitive`, :mod:`.malware`, :mod:`.baseline`: the analyzers;
* :mod:`.rulefiles`: reading the rule files, their digests (for the layer-cache key) and their parsed form;
* :mod:`.paths`: the path entries of the rule files (regexes and the literals declared beside them) and
  :class:`~.paths.PathPatterns`, many of them tried at every layer entry.
"""
