# Top file of the saltext-turnup SLS tree (add this tree to the master's file_roots).
#
# Hosts opt in to being configured from their hardware generation profile by pillar:
#   turnup: {manage_host: true}
# so that adding this tree to an existing master never reconfigures hosts by surprise.
base:
  'I@turnup:manage_host:True and I@hwgen:name:*':
    - match: compound
    - hwgen
