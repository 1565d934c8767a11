"""The public: citizens' reports, their tracking codes and satisfaction."""
