"""Data-protection rights served from the personal-data map (storage/personal_data.py):
erasure of a person in the scheme (erasure.py) and finding and redacting a member of the
public named in free text or contact fields (mentions.py). Both rewrite text through the same
matcher (needles.py), so a name, e-mail address, phone number or chat id is recognised the same
way however it was written."""
