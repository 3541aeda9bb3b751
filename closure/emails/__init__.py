"""Customer and operations emails: facts from the workflow, templates in closure/templates/email."""
