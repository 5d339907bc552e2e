"""Figures for reports to the Commissioner, the police and crime panel and the public.

One query layer (`figures`) gives the counts and sums for any period; the weekly digest, the
panel and annual reports and the grants register read their figures from it. Nothing here
returns a member of the public's name or their free text: only counts, areas, and the outcome
excerpts the office has marked as publishable.
"""
