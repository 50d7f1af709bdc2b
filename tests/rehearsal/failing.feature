Feature: A scenario that fails on purpose
  The rehearsal of the aws target runs this to prove that a failed scenario still destroys.

  Scenario: The state is one nobody set
    Given the service is running
    Then the status shows counter -424242 and message "nobody set this"
