"""Live webhooks (``archiver serve``): Meta deliveries checked, archived at once, acted on."""
