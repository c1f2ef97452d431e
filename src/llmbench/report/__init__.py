"""The report: data gathered from results, sentences that follow the numbers,
rendered to Markdown with Jinja and to one self-contained HTML file.

- :mod:`.strings`    the words of each language (data files under report/strings/);
- :mod:`.article`    the article's own figures (data in config/article.yaml);
- :mod:`.tables`     the tables the report shows, shaped from summary.csv;
- :mod:`.narrative`  sentences of the analysis sections;
- :mod:`.conclusion` the answer first, 总结和不足 last;
- :mod:`.render`     Jinja and HTML.
"""
