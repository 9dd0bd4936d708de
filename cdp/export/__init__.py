"""CRM exports: customer files shaped for HubSpot/Salesforce, an incremental change
feed, hashed ad audiences, and an export log for erasure follow-up."""
