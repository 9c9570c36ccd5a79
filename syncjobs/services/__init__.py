"""Services: the portal's business logic, called by views, commands and django-q2 tasks."""
