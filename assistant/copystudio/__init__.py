"""Product copy studio: attribute-grounded descriptions with a claim check, batch export and eval."""
