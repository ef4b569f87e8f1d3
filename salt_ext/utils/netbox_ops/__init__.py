"""
Pure logic behind the ``netbox`` execution, state and runner modules: endpoint knowledge,
diffing what a user wants against NetBox objects, inventory-sync planning, Salt 3007 name
compatibility and journal comments. Only ``ops`` talks to NetBox, through a source of the
access layer (``salt_ext.utils.netbox``).
"""
